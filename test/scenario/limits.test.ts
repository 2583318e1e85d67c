/**
 * Limits checked at validation (src/scenario/limits.ts), the reserved-area fix of
 * `hostReservedPfnRanges` and the `root-lists-itself` model report (docs/ASSUMPTIONS.md), the control
 * character escaping and the non-terminal progress lines of the CLI.
 */
import { describe, expect, it } from "vitest";
import { startProgress } from "../../src/cli/io.js";
import { escapeControls } from "../../src/common/errors.js";
import {
  encodeHpaListInfo,
  encodeIommuMt,
  encodeIommuMtEntry,
  encodeListEntry,
} from "../../src/common/formats.js";
import { MAX_PFN_LABELS } from "../../src/common/pfn-map.js";
import { POLICY_RANGES } from "../../src/host/kernel.js";
import { defaultPlatform, GIB, hostReservedPfnRanges, MIB, type Platform } from "../../src/hw/platform.js";
import { createMachine } from "../../src/machine.js";
import { MODEL_LIMITS } from "../../src/scenario/limits.js";
import { parseScenario } from "../../src/scenario/schema.js";
import { call, machine, pages, REG, statusOf, units } from "../support/machine.js";

const doc = (extra: Record<string, unknown>) => ({ name: "x", steps: [{ flow: "extensions" }], ...extra });

describe("limits at validation", () => {
  it("the schema's iqOrder range is the kernel's", () => {
    expect(() =>
      parseScenario(doc({ host: { policy: { iqOrder: POLICY_RANGES.iqOrder.max } } })),
    ).not.toThrow();
    expect(() =>
      parseScenario(doc({ host: { policy: { iqOrder: POLICY_RANGES.iqOrder.max + 1 } } })),
    ).toThrow(/host\.policy\.iqOrder: expected an integer in 0\.\.10, got 11/);
  });

  it("a pool larger than the model's page limit is refused naming field, value and limit", () => {
    const d = doc({ platform: { metadata: { MEMORY_POOL_REQUIRED_PAGES: MODEL_LIMITS.pages + 1 } } });
    expect(() => parseScenario(d)).toThrow(
      `platform.metadata.MEMORY_POOL_REQUIRED_PAGES: ${MODEL_LIMITS.pages + 1} is over the limit ${MODEL_LIMITS.pages}`,
    );
  });

  it("a pool larger than the platform's host memory is refused with the platform's limit", () => {
    const d = doc({
      platform: { base: "uniform", totalGiB: 1, metadata: { MEMORY_POOL_REQUIRED_PAGES: 800_000 } },
    });
    expect(() => parseScenario(d)).toThrow(
      /over the limit \d+ \(pages the platform uniform-1g leaves to the host\)/,
    );
  });

  it("alloc steps add up against the budget", () => {
    const steps = [
      { alloc: "a", pages: 3_000_000 },
      { alloc: "b", pages: 3_000_000 },
    ];
    expect(() => parseScenario({ name: "x", steps })).toThrow(
      /^steps\[1\]: \d+ pages with the steps before it/,
    );
    expect(() => parseScenario({ name: "x", steps: [{ alloc: "a", pages: 8, order: 10 }] })).not.toThrow();
    expect(() => parseScenario({ name: "x", steps: [{ alloc: "a", pages: 8192, order: 10 }] })).toThrow(
      /steps\[0\]\.pages: 8192 x 2\^10 pages is over the limit/,
    );
  });

  it("too many IOMMU units or devices are refused before any work", () => {
    const p = defaultPlatform();
    const iommus = Array.from({ length: MODEL_LIMITS.iommus + 1 }, (_, i) => ({
      name: `u${i}`,
      regBase: 0x1_0000_0000 + i * 4096,
      tdxCapable: false,
    }));
    expect(() => parseScenario(doc({ platform: { iommus } }))).toThrow(
      `platform.iommus: ${MODEL_LIMITS.iommus + 1} is over the limit ${MODEL_LIMITS.iommus}`,
    );
    const devices = Array.from({ length: MODEL_LIMITS.devices + 1 }, (_, i) => ({
      ...p.devices![0]!,
      name: `d${i}`,
      requesterId: i,
    }));
    expect(() => parseScenario(doc({ platform: { devices } }))).toThrow(
      `platform.devices: ${MODEL_LIMITS.devices + 1} is over the limit ${MODEL_LIMITS.devices}`,
    );
  });

  it("the step, unit and device limits keep the ledger's labels below its 16-bit ids", () => {
    // Each alloc or root name is one label; each unit and device up to three; a few flow labels.
    expect(MODEL_LIMITS.steps + 3 * (MODEL_LIMITS.iommus + MODEL_LIMITS.devices) + 16).toBeLessThan(
      MAX_PFN_LABELS,
    );
  });

  it.each([
    ["@p[3] past the end", "@p[3]", /an index in 0\.\.2 \(p has 3 pages, steps\[0\]\), got "@p\[3\]"/],
    ["a huge index, quoted as written", "@p[99999999999999999999999]", /got "@p\[99999999999999999999999\]"/],
    ["@p without an index on a 3-page alloc", "@p", /@p\[i\] with i in 0\.\.2/],
    ["an index on a root", "@r[1]", /@r without an index/],
    ["an unknown name", "@q", /a name defined by an earlier alloc or root step \(p, r\)/],
  ])("reference: %s", (_n, ref, msg) => {
    const steps = [
      { alloc: "p", pages: 3 },
      { root: "r", of: "p", format: "hpa-list-info" },
      { seamcall: "TDH.EXT.MEM.ADD", regs: { RCX: ref } },
    ];
    expect(() => parseScenario({ name: "x", steps })).toThrow(msg);
  });

  it("a root of a root, duplicate names and a root of more than 512 pages are refused", () => {
    const base = [
      { alloc: "p", pages: 3 },
      { root: "r", of: "p", format: "hpa-list-info" },
    ];
    expect(() =>
      parseScenario({ name: "x", steps: [...base, { root: "rr", of: "r", format: "hpa-list-info" }] }),
    ).toThrow(/steps\[2\]\.of: .*r is a root \(steps\[1\]\)/);
    expect(() => parseScenario({ name: "x", steps: [...base, { alloc: "r" }] })).toThrow(
      /steps\[2\]\.alloc: expected a name not defined before \(steps\[1\] defines r\)/,
    );
    expect(() =>
      parseScenario({
        name: "x",
        steps: [
          { alloc: "p", pages: 513 },
          { root: "r", of: "p", format: "hpa-array" },
        ],
      }),
    ).toThrow(/at most 512 pages.*p has 513/);
    expect(() =>
      parseScenario({
        name: "x",
        steps: [
          { alloc: "p", pages: 512 },
          { root: "r", of: "p", format: "hpa-array" },
        ],
      }),
    ).not.toThrow();
  });

  it("a u64 register beyond 2^53 is read exactly, one beyond 2^64 is quoted as written", () => {
    const s = parseScenario({
      name: "x",
      steps: [{ seamcall: "TDH.SYS.RD", regs: { RDX: 2n ** 64n - 1n } }],
    });
    const st = s.steps[0]!;
    expect(st.kind === "seamcall" && st.regs[REG.RDX]).toEqual({ u64: { lo: 0xffff_ffff, hi: 0xffff_ffff } });
    expect(() =>
      parseScenario({ name: "x", steps: [{ seamcall: "TDH.SYS.RD", regs: { RDX: 2n ** 64n } }] }),
    ).toThrow(/got 18446744073709551616$/);
  });
});

describe("model fixes", () => {
  it("a reserved area that contains the module range is withheld whole", () => {
    const d = defaultPlatform();
    const big = { base: 2 * GIB - 128 * MIB, size: 128 * MIB };
    const p: Platform = {
      ...d,
      tdmrs: [{ ...d.tdmrs[0]!, reserved: [{ base: 0, size: MIB }, big] }, ...d.tdmrs.slice(1)],
    };
    const ranges = hostReservedPfnRanges(p);
    expect(ranges).toContainEqual({ startPfn: big.base / 4096, pages: big.size / 4096 });
    const m = createMachine(p);
    // The page below the module's range but inside the reserved area is never handed to the host.
    expect(m.alloc.isReserved(big.base / 4096)).toBe(true);
    expect(m.alloc.isReserved(d.moduleRange.base / 4096 - 1)).toBe(true);
  });

  it("a root page that lists itself in TDH.EXT.MEM.ADD is a model report", () => {
    const m = machine();
    const [a, root] = pages(m, 2);
    const w = m.mem.words(root!.pfn);
    for (const [i, hpa] of [a!.hpa, root!.hpa].entries()) {
      const e = encodeListEntry(hpa);
      w[2 * i] = e.lo;
      w[2 * i + 1] = e.hi;
    }
    const r = call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: encodeHpaListInfo({ rootHpa: root!.hpa, count: 2 }) });
    expect(statusOf(r)).toBe("TDX_SUCCESS");
    expect(m.module.reports.map((x) => [x.kind, x.pfn])).toEqual([["root-lists-itself", root!.pfn]]);
  });

  it("a root page that lists itself as an IOMMU_MT entry is a model report", () => {
    const m = machine();
    const blocks = [m.alloc.allocPages(1, { tag: "q" })!, m.alloc.allocPages(1, { tag: "q" })!];
    const singles = pages(m, m.platform.metadata.IOMMU_MT_PAGE_COUNT, "mt");
    const root = singles[3]!;
    const w = m.mem.words(root.pfn);
    const entries = [
      ...blocks.map((b) => encodeIommuMtEntry(b.hpa, 2)),
      ...singles.map((p) => encodeIommuMtEntry(p.hpa, 1)),
    ];
    entries.forEach((e, i) => {
      w[2 * i] = e.lo;
      w[2 * i + 1] = e.hi;
    });
    const r = call(m, "TDH.IOMMU.SETUP", {
      [REG.RCX]: { lo: units(m).capable, hi: 0 },
      [REG.RDX]: encodeIommuMt(root.hpa),
    });
    expect(statusOf(r)).toBe("TDX_SUCCESS");
    expect(m.module.reports.map((x) => [x.kind, x.pfn])).toEqual([["root-lists-itself", root.pfn]]);
  });

  it("a root page that does not list itself is no report", () => {
    const m = machine();
    const [a, b, root] = pages(m, 3);
    const w = m.mem.words(root!.pfn);
    for (const [i, hpa] of [a!.hpa, b!.hpa].entries()) {
      const e = encodeListEntry(hpa);
      w[2 * i] = e.lo;
      w[2 * i + 1] = e.hi;
    }
    call(m, "TDH.EXT.MEM.ADD", { [REG.RCX]: encodeHpaListInfo({ rootHpa: root!.hpa, count: 2 }) });
    expect(m.module.reports).toEqual([]);
  });
});

describe("printing", () => {
  it("escapes control characters, separators and bidirectional overrides", () => {
    expect(escapeControls("a\x1b[31mb\nc\td\x7f\u0085\u2028\u202e")).toBe(
      "a\\x1b[31mb\\x0ac\\x09d\\x7f\\x85\\u2028\\u202e",
    );
    expect(escapeControls("plain ünïcödé 𝟘")).toBe("plain ünïcödé 𝟘");
  });

  it("progress off a terminal: silent for 2 s, then one line per 10%", () => {
    const err: string[] = [];
    let t = 0;
    const p = startProgress(
      {
        out: () => {},
        err: (s) => err.push(s),
        readStdin: async () => "",
        isTTY: false,
        progressLines: true,
      },
      "compare",
      () => t,
    );
    for (let i = 1; i <= 100; i++) {
      t = i * 50; // 5 s in all
      p.update(i, 100, `piece ${i}`);
    }
    expect(err[0]).toBe("tdxpa compare: 40% (piece 40)");
    expect(err.length).toBe(6); // 40, 50, 60, 70, 80, 90; 100% is the result itself
    expect(err.every((l) => /^tdxpa compare: \d+% \(piece \d+\)$/.test(l))).toBe(true);
  });
});
