/**
 * DICE-based quoting (docs/spec/03-module.md 3.3 TDH.QUOTE.GET, 02-kapi.md 2.5, 01-formats.md 1.3): the
 * module leaf through raw SEAMCALLs, the host's quote-buffer builder and the flow with its wrong-host
 * variants.
 */
import { describe, expect, it } from "vitest";
import { LINKED_DATA_PER_PAGE, readLinkedList } from "../../src/common/formats.js";
import { LEAF } from "../../src/common/status.js";
import { parseU64 } from "../../src/common/u64.js";
import { failingStatuses, statusValue } from "../../src/faults/fault-table.js";
import { quoteFlow } from "../../src/host/flows/quote.js";
import { hpaWithKeyId } from "../../src/host/kernel.js";
import { buildQuoteBuffer, freeQuoteBuffer, type QuoteBuffer } from "../../src/host/quote.js";
import { mngCreate, pageReclaim, pageWbinvd } from "../../src/host/seamcalls/index.js";
import { FEATURE_BITS, METADATA_FIELD_IDS } from "../../src/hw/platform.js";
import type { Machine } from "../../src/machine.js";
import { PT } from "../../src/module/index.js";
import { buildModelQuote, QUOTE_CERT_BYTES } from "../../src/module/leaves-quote.js";
import { checkConservation } from "../../src/observe/conservation.js";
import { call, hpa, machine, REG, statusOf, want } from "../support/machine.js";

const MiB = 2 ** 20;
const INPUT = 64;

/** A TD, an input page and a quote buffer of `bytes`; returns the registers of a TDH.QUOTE.GET. */
function setup(m: Machine, bytes = 64 * 1024, build = (b: number) => buildQuoteBuffer(m.kernel, b)!) {
  const tdr = m.alloc.allocPage({ tag: "tdr", zero: true })!;
  expect(mngCreate(m.kernel, tdr.pfn, m.platform.keyIds.global + 1)).toEqual({ lo: 0, hi: 0 });
  const input = m.alloc.allocPage({ tag: "in", zero: true })!;
  m.mem.page(input.pfn).fill(0xa5, 0, INPUT);
  const buf: QuoteBuffer = build(bytes);
  const regs = {
    [REG.RCX]: hpa(tdr.hpa),
    [REG.RDX]: { lo: 1, hi: 0 },
    [REG.R8]: hpa(input.hpa),
    [REG.R9]: { lo: INPUT, hi: 0 },
    [REG.R10]: hpa(buf.list[0]!.hpa),
    [REG.R11]: { lo: bytes, hi: 0 },
  };
  return { tdr, input, buf, regs };
}

describe("TDH.QUOTE.GET (98)", () => {
  it("writes the model quote into the buffer's pages and returns its length in RCX", () => {
    const m = machine();
    const { tdr, input, buf, regs } = setup(m);
    const r = call(m, "TDH.QUOTE.GET", regs);
    expect(statusOf(r)).toBe("TDX_SUCCESS");
    const expected = buildModelQuote({
      idMask: 1,
      tdrHpa: tdr.hpa,
      hkid: m.platform.keyIds.global + 1,
      input: m.mem.page(input.pfn).slice(0, INPUT),
    });
    expect(r.get(REG.RCX)).toEqual({ lo: expected.length, hi: 0 });
    expect(expected.length).toBe(48 + INPUT + QUOTE_CERT_BYTES + 32);
    const got = new Uint8Array(expected.length);
    for (let i = 0; i * 4096 < expected.length; i++)
      got.set(m.mem.page(buf.data[i]!.pfn).subarray(0, Math.min(4096, expected.length - i * 4096)), i * 4096);
    expect(got).toEqual(expected);
    expect(String.fromCharCode(...got.subarray(0, 8))).toBe("TDXQMODL");
  });

  it("is interrupted and resumed with the original inputs; other inputs get INVALID_RESUMPTION", () => {
    const m = machine({ interrupts: { kind: "every", k: 1 } });
    const { regs } = setup(m);
    const r1 = call(m, "TDH.QUOTE.GET", regs);
    expect(statusOf(r1)).toBe("TDX_INTERRUPTED_RESUMABLE");
    expect(r1.get(REG.R10)).not.toEqual(regs[REG.R10]); // the returned registers were overwritten
    expect(statusOf(call(m, "TDH.QUOTE.GET", { ...regs, [REG.R9]: { lo: 32, hi: 0 } }))).toBe(
      "TDX_INVALID_RESUMPTION",
    );
    let n = 1;
    let r = call(m, "TDH.QUOTE.GET", regs);
    while (statusOf(r) === "TDX_INTERRUPTED_RESUMABLE") {
      r = call(m, "TDH.QUOTE.GET", regs);
      n++;
    }
    expect(statusOf(r)).toBe("TDX_SUCCESS");
    // 10,384 bytes = 3 pages, one per unit: interrupted after pages 1 and 2, so r1 and two re-issues.
    expect(n).toBe(2);
  });

  it("a pending interrupt at entry returns TDX_INTERRUPTED_RESTARTABLE and keeps nothing", () => {
    const m = machine({ interrupts: { kind: "random", p: 1, seed: 3 } });
    const { regs } = setup(m);
    expect(statusOf(call(m, "TDH.QUOTE.GET", regs))).toBe("TDX_INTERRUPTED_RESTARTABLE");
    expect(m.module.resumables.size).toBe(0);
    m.module.setInterrupts({ kind: "none" });
    expect(statusOf(call(m, "TDH.QUOTE.GET", regs))).toBe("TDX_SUCCESS");
  });

  it("MAX_QUOTE_SIZE is readable by SYS.RD at 0x2300000200000002 and TDX_FEATURES0 bit 50 is set", () => {
    const m = machine();
    const r = call(m, "TDH.SYS.RD", { [REG.RDX]: parseU64("0x2300000200000002") });
    expect(METADATA_FIELD_IDS.MAX_QUOTE_SIZE).toBe("0x2300000200000002");
    expect(r.get(REG.R8)).toEqual({ lo: 4 * MiB, hi: 0 });
    const f = call(m, "TDH.SYS.RD", { [REG.RDX]: parseU64(METADATA_FIELD_IDS.TDX_FEATURES0) }).get(REG.R8);
    expect((f.hi >>> (FEATURE_BITS.QUOTING - 32)) & 1).toBe(1);
  });

  const wrong: [
    string,
    (m: Machine, s: ReturnType<typeof setup>) => Record<number, { lo: number; hi: number }>,
    string,
  ][] = [
    [
      "RCX not a TDR",
      (_m, s) => ({ ...s.regs, [REG.RCX]: hpa(s.input.hpa) }),
      want("TDX_PAGE_METADATA_INCORRECT", "RCX"),
    ],
    [
      "RCX misaligned",
      (_m, s) => ({ ...s.regs, [REG.RCX]: hpa(s.tdr.hpa + 8) }),
      want("TDX_OPERAND_INVALID", "RCX"),
    ],
    [
      "RDX empty mask",
      (_m, s) => ({ ...s.regs, [REG.RDX]: { lo: 0, hi: 0 } }),
      want("TDX_OPERAND_INVALID", "RDX"),
    ],
    [
      "RDX unknown quote id",
      (_m, s) => ({ ...s.regs, [REG.RDX]: { lo: 2, hi: 0 } }),
      want("TDX_OPERAND_INVALID", "RDX"),
    ],
    ["R9 zero", (_m, s) => ({ ...s.regs, [REG.R9]: { lo: 0, hi: 0 } }), want("TDX_OPERAND_INVALID", "R9")],
    [
      "R8+R9 past the page",
      (_m, s) => ({ ...s.regs, [REG.R8]: hpa(s.input.hpa + 4064) }),
      want("TDX_OPERAND_INVALID", "R9"),
    ],
    [
      "R11 above MAX_QUOTE_SIZE",
      (_m, s) => ({ ...s.regs, [REG.R11]: { lo: 4 * MiB + 1, hi: 0 } }),
      want("TDX_OPERAND_INVALID", "R11"),
    ],
    [
      "R11 below the quote",
      (_m, s) => ({ ...s.regs, [REG.R11]: { lo: 4096, hi: 0 } }),
      want("TDX_OPERAND_INVALID", "R11"),
    ],
    [
      "R10 misaligned",
      (_m, s) => ({ ...s.regs, [REG.R10]: hpa(s.buf.list[0]!.hpa + 8) }),
      want("TDX_OPERAND_INVALID", "R10"),
    ],
    [
      "R10 with a private KeyID",
      (m, s) => ({
        ...s.regs,
        [REG.R10]: hpa(hpaWithKeyId(m.kernel, s.buf.list[0]!.hpa, m.platform.keyIds.global + 1)),
      }),
      want("TDX_OPERAND_INVALID", "R10"),
    ],
  ];
  it.each(wrong)("%s", (_n, make, expected) => {
    const m = machine();
    const s = setup(m);
    expect(statusOf(call(m, "TDH.QUOTE.GET", make(m, s)))).toBe(expected);
  });

  it("without TDX_FEATURES0 bit 50 the leaf does not exist (OPERAND_INVALID on RAX)", () => {
    const base = machine().platform;
    const m = machine({}, { ...base, metadata: { ...base.metadata, TDX_FEATURES0_BITS: [6, 39] } });
    expect(statusOf(call(m, "TDH.QUOTE.GET"))).toBe(want("TDX_OPERAND_INVALID", "RAX"));
  });
});

describe("wrong quote buffers", () => {
  it("a list that loops → OPERAND_INVALID(R10)", () => {
    const m = machine();
    const s = setup(m, 4 * MiB, (b) => buildQuoteBuffer(m.kernel, b, { loop: true })!);
    expect(statusOf(call(m, "TDH.QUOTE.GET", s.regs))).toBe(want("TDX_OPERAND_INVALID", "R10"));
  });
  it("a list naming fewer pages than R11 → OPERAND_INVALID(R11)", () => {
    const m = machine();
    const s = setup(m, 64 * 1024, (b) => buildQuoteBuffer(m.kernel, b, { dataPages: 15 })!);
    expect(statusOf(call(m, "TDH.QUOTE.GET", s.regs))).toBe(want("TDX_OPERAND_INVALID", "R11"));
  });
  it("a private page (private KeyID) in the list → OPERAND_INVALID(R10)", () => {
    const m = machine();
    let bad = 0;
    const s = setup(m, 64 * 1024, (b) => {
      const t = m.alloc.allocPage({ tag: "x" })!;
      bad = hpaWithKeyId(m.kernel, t.hpa, m.platform.keyIds.global + 1);
      return buildQuoteBuffer(m.kernel, b, { replaceFirst: bad })!;
    });
    expect(bad).toBeGreaterThan(0);
    expect(statusOf(call(m, "TDH.QUOTE.GET", s.regs))).toBe(want("TDX_OPERAND_INVALID", "R10"));
  });
  it("a page the module owns in the list: a model report by default, OPERAND_INVALID(R10) under reject", () => {
    for (const mode of ["report", "reject"] as const) {
      const m = machine({ behaviours: { moduleOwnedSharedPage: mode } });
      const s = setup(m, 64 * 1024, (b) => {
        const other = m.alloc.allocPage({ tag: "tdr2", zero: true })!;
        expect(mngCreate(m.kernel, other.pfn, m.platform.keyIds.global + 2)).toEqual({ lo: 0, hi: 0 });
        return buildQuoteBuffer(m.kernel, b, { replaceFirst: other.hpa })!;
      });
      const st = statusOf(call(m, "TDH.QUOTE.GET", s.regs));
      if (mode === "reject") expect(st).toBe(want("TDX_OPERAND_INVALID", "R10"));
      else expect(m.module.reports.map((r) => r.kind)).toContain("module-owned-shared-page");
    }
  });
});

describe("the host's quote buffer (June 2026 series)", () => {
  it("4 MiB: 1024 vmalloc'd pages, one PFN lookup each, 3 list pages that read back as the same list", () => {
    const m = machine();
    const b = buildQuoteBuffer(m.kernel, 4 * MiB)!;
    expect(b.data.length).toBe(1024);
    expect(b.pfnLookups).toBe(1024);
    expect(b.list.length).toBe(Math.ceil(1024 / LINKED_DATA_PER_PAGE));
    const back = readLinkedList(
      (h, e) => {
        const w = m.mem.words(h / 4096);
        return { lo: w[2 * e]!, hi: w[2 * e + 1]! };
      },
      b.list[0]!.hpa,
      3,
    );
    expect(back.violation).toBeNull();
    expect(back.dataHpas).toEqual(b.data.map((p) => p.hpa));
    expect(back.listHpas).toEqual(b.list.map((p) => p.hpa));
    freeQuoteBuffer(m.kernel, b);
    expect(checkConservation(m).totals.hostHeld).toBe(0);
  });

  it("the TDR comes back through RECLAIM and a global-KeyID write-back", () => {
    const m = machine();
    const tdr = m.alloc.allocPage({ tag: "tdr", zero: true })!;
    expect(mngCreate(m.kernel, tdr.pfn, m.platform.keyIds.global + 1)).toEqual({ lo: 0, hi: 0 });
    expect(m.module.pamt.type(tdr.pfn)).toBe(PT.TDR);
    expect(pageReclaim(m.kernel, tdr.pfn)).toEqual({ lo: 0, hi: 0 });
    expect(m.module.pamt.type(tdr.pfn)).toBe(PT.NDA);
    expect(m.cache.dirtyKeyIds(tdr.pfn)).toContain(m.platform.keyIds.global);
    expect(pageWbinvd(m.kernel, tdr.pfn)).toEqual({ lo: 0, hi: 0 });
    expect(m.cache.dirtyKeyIds(tdr.pfn)).not.toContain(m.platform.keyIds.global);
  });
});

describe("the quote flow", () => {
  it.each([
    ["none", true, null],
    ["loop", false, "TDX_OPERAND_INVALID(R10)"],
    ["short", false, "TDX_OPERAND_INVALID(R11)"],
    ["private-page", false, "TDX_OPERAND_INVALID(R10)"],
  ] as const)("%s: ok %s, status %s, and every page comes back", (fault, okay, status) => {
    for (const interrupts of [
      { kind: "every", k: 1 },
      { kind: "random", p: 0.5, seed: 11 },
    ] as const) {
      const m = machine({ interrupts });
      const r = quoteFlow(m.kernel, fault);
      expect(r.ok).toBe(okay);
      expect(r.failedStatus).toBe(status);
      const c = checkConservation(m);
      expect(c.violations).toEqual([]);
      expect(c.totals).toMatchObject({ hostHeld: 0, moduleOwned: 0, stranded: 0 });
      expect(m.cache.hazards).toEqual([]);
      if (okay)
        expect(r.details).toMatchObject({
          dataPages: 1024,
          listPages: 3,
          pfnLookups: 1024,
          quoteBytes: 10_384,
        });
    }
  });
});

describe("the quote flow under single-fault injection", () => {
  const leaves = ["TDH.MNG.CREATE", "TDH.QUOTE.GET", "TDH.PHYMEM.PAGE.RECLAIM"] as const;
  const cases = leaves.flatMap((leaf) =>
    failingStatuses(LEAF[leaf]).map((f) => [leaf, `${f.name}(${f.operand})`, f] as const),
  );
  it.each(cases)("%s forced %s: no page lost, no hazard", (leaf, _n, f) => {
    const m = machine();
    m.module.forceStatus({ leaf: LEAF[leaf], nth: 1, status: statusValue(f) });
    const r = quoteFlow(m.kernel);
    const c = checkConservation(m);
    expect(c.violations).toEqual([]);
    expect(m.cache.hazards).toEqual([]);
    expect(c.totals.hostHeld).toBe(0);
    const interrupt = f.name === "TDX_INTERRUPTED_RESUMABLE" || f.name === "TDX_INTERRUPTED_RESTARTABLE";
    expect(r.ok).toBe(interrupt);
    // Only a failed RECLAIM leaves the TDR with the module: stranded, reported, never reused.
    expect(c.totals.stranded).toBe(leaf === "TDH.PHYMEM.PAGE.RECLAIM" ? 1 : 0);
  });
});
