/**
 * The event stream (src/observe/events.ts): events carry numbers and the text form is made only where a
 * trace prints it. A call's root page read as numbers ({@link RootPage.raw}, what the report keeps)
 * agrees field by field with the decoded text ({@link RootPage.view}, what traces and `tdxpa inspect`
 * show) on every call of scenarios covering each list format, singletons and failed calls; the trace
 * line form names PAMT types and leaves out what only the in-memory event carries; a root page asked
 * after its event was delivered throws rather than answer from later memory.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadScenario } from "../../src/cli/scenario-file.js";
import { encodeHpaArray, encodeHpaListInfo, encodeIommuMt } from "../../src/common/formats.js";
import { LEAF, REG } from "../../src/common/status.js";
import { type U64, u64ToHex } from "../../src/common/u64.js";
import { createMachine } from "../../src/machine.js";
import { PT } from "../../src/module/pamt.js";
import {
  eventJson,
  eventToJson,
  isModuleType,
  type ModelEvent,
  type RootPage,
  readRootRaw,
  type SeamcallEvent,
} from "../../src/observe/events.js";
import { readRootView } from "../../src/observe/root-pages.js";
import "../../src/scenario/index.js";
import { runScenario } from "../../src/scenario/runner.js";

const ROOT = new URL("../../", import.meta.url);
const scenario = (name: string) => loadScenario(new URL(`scenarios/${name}.yaml`, ROOT).pathname);

/** Every seamcall of `name` with its root page read inside the sink, both ways. */
function calls(
  name: string,
): { e: SeamcallEvent; view: ReturnType<RootPage["view"]>; raw: ReturnType<RootPage["raw"]> }[] {
  const out: { e: SeamcallEvent; view: ReturnType<RootPage["view"]>; raw: ReturnType<RootPage["raw"]> }[] =
    [];
  runScenario(scenario(name), {
    pageEvents: false,
    onEvent: (e) => {
      if (e.type === "seamcall" && e.root !== undefined)
        out.push({ e, raw: e.root.raw(), view: e.root.view() });
    },
  });
  return out;
}

describe("root pages: numbers and text agree", () => {
  const NAMES = ["default", "stale-root", "duplicate-page", "raw-seamcalls"];
  it.each(NAMES)("%s", (name) => {
    const all = calls(name);
    expect(all.length).toBeGreaterThan(0);
    let entries = 0;
    for (const { e, view, raw } of all) {
      expect(raw === null, `#${e.seq} null together`).toBe(view === null);
      if (raw === null || view === null) continue;
      expect(raw.register).toBe(view.register);
      expect(raw.format).toBe(view.format);
      expect(raw.count).toBe(view.count);
      expect(raw.rootHpa === null ? null : `0x${raw.rootHpa.toString(16)}`).toBe(view.rootHpa);
      expect(raw.entries.length).toBe(2 * view.entries.length);
      const hex = view.entries.map((_, i) => u64ToHex(raw.entries[2 * i]!, raw.entries[2 * i + 1]!));
      expect(hex).toEqual(view.entries.map((x) => x.raw));
      entries += view.entries.length;
    }
    expect(entries).toBeGreaterThan(0);
  });

  it("covers the three list formats", () => {
    const seen = new Set<string>();
    for (const name of ["default", "duplicate-page"])
      for (const { raw } of calls(name)) if (raw) seen.add(raw.format);
    expect([...seen].sort()).toEqual(["hpa-array", "hpa-list-info", "iommu-mt"]);
  });

  // Operands no scenario hands over: a singleton, a root never written, a root outside memory, an
  // operand that does not decode, and a root page with entries written.
  const m = createMachine();
  const written = 0x1_0000_0000 + 0x40_0000;
  for (let i = 0; i < 512; i++) m.mem.writeU64(written + 8 * i, (0x5000_0000 + 4096 * i) >>> 0, i % 3);
  const cases: [string, number, number, U64][] = [
    [
      "list info, written root",
      LEAF["TDH.EXT.MEM.ADD"],
      REG.RCX,
      encodeHpaListInfo({ rootHpa: written, count: 512 }),
    ],
    [
      "list info, FIRST_ENTRY past LAST",
      LEAF["TDH.EXT.MEM.ADD"],
      REG.RCX,
      { lo: 0x1000 | (9 << 3), hi: 4 << 20 },
    ],
    [
      "list info, root never written",
      LEAF["TDH.EXT.MEM.ADD"],
      REG.RCX,
      encodeHpaListInfo({ rootHpa: 0x1_2000_0000, count: 7 }),
    ],
    [
      "list info, root outside memory",
      LEAF["TDH.EXT.MEM.ADD"],
      REG.RCX,
      encodeHpaListInfo({ rootHpa: 0x9000_0000, count: 3 }),
    ],
    [
      "array, singleton",
      LEAF["TDH.SPDM.CREATE"],
      REG.RDX,
      encodeHpaArray({ count: 1, pageHpa: 0x1_2345_6000 }),
    ],
    ["array, written root", LEAF["TDH.SPDM.CREATE"], REG.RDX, encodeHpaArray({ count: 5, rootHpa: written })],
    ["array, does not decode", LEAF["TDH.SPDM.CREATE"], REG.RDX, { lo: 0x123, hi: 0 }],
    ["IOMMU_MT, written root", LEAF["TDH.IOMMU.SETUP"], REG.RDX, encodeIommuMt(written)],
    ["no list", LEAF["TDH.SYS.RD"], REG.RDX, { lo: 1, hi: 0 }],
  ];
  it.each(cases)("%s", (_, leaf, reg, op) => {
    const regs = new Uint32Array(32);
    regs[2 * reg] = op.lo;
    regs[2 * reg + 1] = op.hi;
    const view = readRootView(m.mem, m.platform, leaf, regs);
    const raw = readRootRaw(m.mem, m.platform, leaf, regs);
    expect(raw === null).toBe(view === null);
    if (raw === null || view === null) return;
    expect(raw.rootHpa === null ? null : `0x${raw.rootHpa.toString(16)}`).toBe(view.rootHpa);
    expect([raw.register, raw.format, raw.count]).toEqual([view.register, view.format, view.count]);
    const hex = view.entries.map((_, i) => u64ToHex(raw.entries[2 * i]!, raw.entries[2 * i + 1]!));
    expect(raw.entries.length).toBe(2 * view.entries.length);
    expect(hex).toEqual(view.entries.map((x) => x.raw));
  });
});

describe("root pages are read only while the event is delivered", () => {
  it("a handle asked after delivery throws; one asked in time keeps its answer", () => {
    const late: RootPage[] = [];
    const kept: { root: RootPage; raw: unknown }[] = [];
    runScenario(scenario("default"), {
      pageEvents: false,
      onEvent: (e) => {
        if (e.type !== "seamcall" || e.root === undefined) return;
        if (late.length < 2) late.push(e.root);
        else if (kept.length < 2) kept.push({ root: e.root, raw: e.root.raw() });
      },
    });
    expect(late).toHaveLength(2);
    for (const r of late) {
      expect(() => r.view()).toThrow(expect.objectContaining({ name: "TdxpaError", code: "bad-state" }));
      expect(() => r.raw()).toThrow(/read after its event was delivered/);
    }
    for (const k of kept) expect(k.root.raw()).toBe(k.raw);
    // Only the representation asked for was read: the other one is not available afterwards.
    expect(() => kept[0]!.root.view()).toThrow(/root page of SEAMCALL #\d+: read after/);
    // JSON.stringify of a kept event asks for the view too: the same rule.
    expect(() => JSON.stringify(kept[0]!.root)).toThrow(/read after its event was delivered/);
  });

  it("roots: false leaves the handle out", () => {
    // The runner asks for roots; attachEvents' own option is checked through the trace line.
    const e: ModelEvent = {
      type: "seamcall",
      t: 0,
      seq: 1,
      leaf: "TDH.SYS.RD",
      inputs: {},
      outputs: {},
      status: "TDX_SUCCESS",
      statusName: "TDX_SUCCESS",
      units: 0,
      forced: false,
      statusCode: { lo: 0, hi: 0 },
    };
    expect(eventJson(e)).toBe(
      '{"type":"seamcall","t":0,"seq":1,"leaf":"TDH.SYS.RD","inputs":{},"outputs":{},"status":"TDX_SUCCESS","statusName":"TDX_SUCCESS","units":0,"forced":false}',
    );
  });
});

describe("trace lines", () => {
  it("name PAMT types of page events", () => {
    const e: ModelEvent = { type: "page", t: 5, pfn: 0x100, from: PT.NDA, to: PT.EXT_POOL, owner: 7 };
    expect(eventJson(e)).toBe('{"type":"page","t":5,"pfn":256,"from":"PT_NDA","to":"PT_EXT_POOL","owner":7}');
    expect(eventToJson({ ...e, to: 200 })).toMatchObject({ to: "PT_200" });
  });

  it("put the root before the CPU, as traces always had it", () => {
    let line = "";
    runScenario(scenario("two-cpus"), {
      pageEvents: false,
      onEvent: (e) => {
        if (line === "" && e.type === "seamcall" && e.cpu !== undefined && e.root?.view() != null)
          line = eventJson(e);
      },
    });
    expect(line).not.toBe("");
    const keys = Object.keys(JSON.parse(line));
    expect(keys.slice(-2)).toEqual(["root", "cpu"]);
    expect(keys).not.toContain("statusCode");
  });

  it("page and free lines, written directly, equal JSON.stringify of their trace form", () => {
    const n = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
    fc.assert(
      fc.property(
        n,
        n,
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        n,
        (t, pfn, from, to, owner) => {
          const page: ModelEvent = { type: "page", t, pfn, from, to, owner };
          expect(eventJson(page)).toBe(JSON.stringify(eventToJson(page)));
          const free: ModelEvent = { type: "free", t, pfn };
          expect(eventJson(free)).toBe(JSON.stringify(eventToJson(free)));
        },
      ),
    );
  });

  it("leave other events as they are", () => {
    const e: ModelEvent = { type: "free", t: 3, pfn: 7 };
    expect(eventJson(e)).toBe('{"type":"free","t":3,"pfn":7}');
  });

  it("module types are all but PT_NDA and PT_RSVD", () => {
    expect(isModuleType(PT.NDA)).toBe(false);
    expect(isModuleType(PT.RSVD)).toBe(false);
    for (const t of [PT.REG, PT.TDR, PT.EXT_POOL, PT.IOMMU_MT, PT.SPDM_MT])
      expect(isModuleType(t)).toBe(true);
  });
});
