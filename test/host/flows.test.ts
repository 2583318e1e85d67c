/**
 * The host flows end to end on the default platform: interrupts at several rates, the wrong hosts of
 * issue #3 each caught, and one-at-a-time fault injection at every allocation and SEAMCALL.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { LEAF, STATUS } from "../../src/common/status.js";
import { extensionsBringUp } from "../../src/host/flows/extensions.js";
import { iommuClearAll, iommuSetupAll } from "../../src/host/flows/iommu.js";
import { DEFAULT_POLICY, type HostPolicy } from "../../src/host/kernel.js";
import type { Machine, MachineOptions } from "../../src/machine.js";
import { PT } from "../../src/module/index.js";
import { checkConservation } from "../../src/observe/conservation.js";
import { machine } from "../support/machine.js";

/** Bring-up, IOMMU setup on every unit, IOMMU teardown. */
function iommuRoundTrip(m: Machine) {
  const ext = extensionsBringUp(m.kernel);
  const afterExt = checkConservation(m);
  const setup = iommuSetupAll(m.kernel, m.platform.iommus);
  const afterSetup = checkConservation(m);
  const clear = iommuClearAll(m.kernel, setup.setups);
  // The IOMMUs are torn down: the host may hold nothing but the pool it donated and what it stranded.
  return { ext, setup, clear, afterExt, afterSetup, end: checkConservation(m, { endOfTeardown: true }) };
}

describe("flows end to end", () => {
  it.each([
    ["no interrupts", { kind: "none" } as const],
    ["every 1 unit", { kind: "every", k: 1 } as const],
    ["every 3 units", { kind: "every", k: 3 } as const],
    ["every 64 units", { kind: "every", k: 64 } as const],
    ["every 1000 units", { kind: "every", k: 1000 } as const],
    ["random p=0.05 seed 7", { kind: "random", p: 0.05, seed: 7 } as const],
  ])("%s: conservation holds after each step and no hazard", (_n, interrupts) => {
    const m = machine({ interrupts });
    const r = iommuRoundTrip(m);
    expect(r.ext.ok).toBe(true);
    expect(r.setup.result.ok).toBe(true);
    expect(r.clear.ok).toBe(true);
    expect(r.setup.result.details).toMatchObject({ unitsSetUp: 4, unitsSkipped: 2 });
    for (const c of [r.afterExt, r.afterSetup, r.end]) expect(c.violations).toEqual([]);
    expect(r.afterSetup.totals.moduleOwned).toBe(12_800 + 4 * 20);
    expect(r.end.totals).toMatchObject({ moduleOwned: 12_800, hostHeld: 0, stranded: 0 });
    expect(r.end.byObject).toEqual({ "extension memory pool": 12_800 });
    expect(m.cache.hazards).toEqual([]);
    expect(m.module.reports).toEqual([]);
    const ext = m.module.callsByLeaf.get(LEAF["TDH.EXT.MEM.ADD"])!;
    expect(
      ext - r.ext.interrupts + (m.module.callsByLeaf.get(LEAF["TDH.EXT.INIT"]) ?? 0),
    ).toBeGreaterThanOrEqual(25);
    if (interrupts.kind === "none") {
      expect(ext).toBe(25);
      expect(r.ext.interrupts).toBe(0);
    } else {
      expect(r.ext.interrupts + r.setup.result.interrupts + r.clear.interrupts).toBeGreaterThan(0);
    }
    // Released IOMMU pages went back to the allocator written back: no dirty private lines anywhere free.
    expect(m.cache.evictNow()).toBe(0);
  });

  it("EXT.MEM.ADD with interrupts every k entries takes 25 + sum of interrupts calls", () => {
    const m = machine({ interrupts: { kind: "every", k: 100 } });
    const r = extensionsBringUp(m.kernel);
    expect(r.ok).toBe(true);
    // 512-entry chunks interrupted after every 100 entries: 5 interrupts per chunk, 25 chunks.
    expect(m.module.callsByLeaf.get(LEAF["TDH.EXT.MEM.ADD"])).toBe(25 * 6);
  });

  it("a platform whose IOMMUs are all incapable skips every unit", () => {
    const base = machine().platform;
    const m = machine({}, { ...base, iommus: base.iommus.map((u) => ({ ...u, tdxCapable: false })) });
    const s = iommuSetupAll(m.kernel, m.platform.iommus);
    expect(s.result.ok).toBe(true);
    expect(s.result.details).toMatchObject({ unitsSetUp: 0, unitsSkipped: 6 });
    expect(checkConservation(m).totals.hostHeld).toBe(0);
  });
});

describe("wrong hosts, caught", () => {
  const run = (policy: Partial<HostPolicy>, opts: MachineOptions = {}) => {
    const m = machine({ ...opts, policy });
    return { m, ...iommuRoundTrip(m) };
  };

  it("no CLFLUSH while the module requires it → hazard 1 on the zeroed IOMMU pages; evict damages them", () => {
    const { m } = run({ clflush: "never" });
    const h = m.cache.hazards.filter((x) => x.kind === "dirty-host-lines-on-private");
    expect(h.length).toBe(4 * 20);
    expect(h[0]!.keyIds).toEqual([0]);
    expect(h[0]!.cause).toMatch(/^TDH\.IOMMU\.SETUP #\d+$/);
  });

  it("no CLFLUSH is fine when the module does not ask for it", () => {
    const base = machine().platform;
    const m = machine({ policy: { clflush: "never" } }, { ...base, clflushBeforeAlloc: false });
    iommuRoundTrip(m);
    expect(m.cache.hazards).toEqual([]);
  });

  it("no CLFLUSH, then an eviction while the pages are private: the module's pages are poisoned", () => {
    const m = machine({ policy: { clflush: "never" } });
    extensionsBringUp(m.kernel);
    const s = iommuSetupAll(m.kernel, m.platform.iommus);
    expect(s.result.ok).toBe(true);
    expect(m.cache.evictNow()).toBe(4 * 20);
    const p = s.setups[0]!.pages[2]!.pfn;
    expect(m.cache.poisoned.has(p)).toBe(true);
    expect(m.module.pamt.type(p)).toBe(PT.IOMMU_MT);
  });

  it("head-page-only write-back (the 2026-04-16 diff) → tail pages of queue blocks reach the allocator dirty", () => {
    const { m, clear } = run({ writeBack: "head-page-only" });
    expect(clear.ok).toBe(true);
    const h = m.cache.hazards.filter((x) => x.kind === "private-lines-on-host-page");
    expect(h.length).toBe(4 * 2); // one tail page per queue block, two blocks per unit
    expect(h.every((x) => x.keyIds.includes(m.platform.keyIds.global))).toBe(true);
    expect(m.cache.evictNow()).toBe(8);
  });

  it("no write-back at all (writeBack: none) → every page of every unit set up reaches the allocator dirty", () => {
    const { m, clear } = run({ writeBack: "none" });
    expect(clear.ok).toBe(true);
    const h = m.cache.hazards.filter((x) => x.kind === "private-lines-on-host-page");
    const unitsSetUp = m.platform.iommus.filter((u) => u.tdxCapable).length;
    expect(h.length).toBe(
      unitsSetUp * (m.platform.metadata.IOMMU_MT_PAGE_COUNT + 2 * 2 ** DEFAULT_POLICY.iqOrder),
    );
    expect(new Set(h.map((x) => x.pfn)).size).toBe(h.length);
    expect(h.every((x) => x.keyIds.includes(m.platform.keyIds.global))).toBe(true);
  });

  it("EXT.MEM.ADD re-issued with the original operand → PAGE_METADATA_INCORRECT, every page stranded", () => {
    const { m, ext, afterExt } = run({ extAddResume: "original" }, { interrupts: { kind: "every", k: 50 } });
    expect(ext.ok).toBe(false);
    expect(ext.failedStatus).toBe("TDX_PAGE_METADATA_INCORRECT(RCX)");
    expect(ext.strandedPages).toBe(12_800);
    expect(afterExt.violations).toEqual([]);
    expect(afterExt.totals.stranded).toBe(12_800);
    expect(m.kernel.ledger.strandReports[0]!.reason).toMatch(/TDH\.EXT\.MEM\.ADD chunk 0 failed/);
  });

  it("pages freed before the write-back → hazard 2 at the free", () => {
    const { m } = run({ freeBeforeWriteBack: true });
    const h = m.cache.hazards.filter((x) => x.kind === "private-lines-on-host-page");
    expect(h.length).toBe(4 * 20);
    expect(h[0]!.cause).toBe("host");
    expect(h[0]!.message).toMatch(/went back to the allocator/);
  });

  it("freed first: destroy with the recorded orders still writes back every page; read-at-destroy (compound_nr) leaves the tail pages dirty, and the end-of-run sweep names them", () => {
    const recorded = run({ freeBeforeWriteBack: true });
    expect(recorded.m.cache.sweep()).toEqual([]);
    const late = run({ freeBeforeWriteBack: true, destroyOrders: "read-at-destroy" });
    const left = late.m.cache.sweep();
    expect(left).toHaveLength(4 * 2); // one tail page per queue block, two blocks per unit
    expect(left[0]!.kind).toBe("private-lines-left-at-end");
    expect(left[0]!.keyIds).toEqual([late.m.platform.keyIds.global]);
    expect(left[0]!.cause).toMatch(/^TDH\.IOMMU\.CLEAR #\d+$/);
    // The same hazards at the free: only the sweep tells the two destroys apart.
    const atFree = (m: Machine) =>
      m.cache.hazards.filter((x) => x.kind === "private-lines-on-host-page").length;
    expect(atFree(late.m)).toBe(atFree(recorded.m));
  });

  it("head-page-only write-back: the sweep also names the tail pages the host never touched again", () => {
    const { m } = run({ writeBack: "head-page-only", freeBeforeWriteBack: false });
    // The tail pages went back to the allocator dirty (hazard 2 at the free) and are still dirty at the end.
    expect(
      m.cache
        .sweep()
        .map((h) => h.pfn)
        .sort(),
    ).toEqual(
      m.cache.hazards
        .filter((x) => x.kind === "private-lines-on-host-page")
        .map((h) => h.pfn)
        .sort(),
    );
  });

  it("the same page handed over twice → PAGE_METADATA_INCORRECT(RDX), nothing leaks", () => {
    const { setup, afterSetup } = run({ duplicatePage: true });
    expect(setup.result.ok).toBe(false);
    expect(setup.result.failedStatus).toBe("TDX_PAGE_METADATA_INCORRECT(RDX)");
    expect(afterSetup.violations).toEqual([]);
    expect(afterSetup.totals.hostHeld).toBe(0);
  });

  it("a root page that is itself module-owned → reported, and refused by entry validation (the kernel's probe skips the unit)", () => {
    const { m, setup } = run({ staleRoot: true });
    // TDX_OPERAND_INVALID with any operand id is "not TDX-capable" to the kernel's probe: every unit skipped.
    expect(setup.result.ok).toBe(true);
    expect(setup.result.details).toMatchObject({ unitsSetUp: 0, unitsSkipped: 6 });
    expect(m.module.statusCounts.get("TDH.IOMMU.SETUP TDX_OPERAND_INVALID(RDX)")).toBe(4);
    expect(m.module.reports[0]).toMatchObject({ kind: "module-owned-shared-page" });
    expect(m.module.reports[0]!.cause).toMatch(/TDH\.IOMMU\.SETUP/);
    const strict = machine({ policy: { staleRoot: true }, behaviours: { moduleOwnedSharedPage: "reject" } });
    extensionsBringUp(strict.kernel);
    expect(iommuSetupAll(strict.kernel, strict.platform.iommus).result.details.unitsSetUp).toBe(0);
    expect(strict.module.statusCounts.get("TDH.IOMMU.SETUP TDX_OPERAND_INVALID(RDX)")).toBe(4);
    expect(strict.module.reports).toEqual([]);
  });
});

describe("fault injection, one at a time", () => {
  /** Counts allocations and SEAMCALLs of a clean run to know every injection point. */
  let allocPoints = 0;
  let callsByLeaf: [number, number][] = [];
  beforeAll(() => {
    const clean = machine();
    const run0 = iommuRoundTrip(clean);
    allocPoints = clean.alloc.allocCount;
    callsByLeaf = [...clean.module.callsByLeaf];
    expect(run0.end.violations).toEqual([]);
  });

  it("knows its injection points", () => {
    expect(allocPoints).toBeGreaterThan(4 * 18);
    expect(callsByLeaf.map(([l]) => l).sort()).toEqual(
      [
        LEAF["TDH.SYS.RD"],
        LEAF["TDH.SYS.CONFIG"],
        LEAF["TDH.EXT.MEM.ADD"],
        LEAF["TDH.EXT.INIT"],
        LEAF["TDH.IOMMU.SETUP"],
        LEAF["TDH.IOMMU.CLEAR"],
        LEAF["TDH.PHYMEM.PAGE.WBINVD"],
      ].sort(),
    );
  });

  it("every allocation failing in turn: conservation holds, nothing free is module-owned", () => {
    let failedFlows = 0;
    for (let n = 1; n <= allocPoints; n++) {
      const m = machine();
      m.alloc.failNth(n);
      const r = iommuRoundTrip(m);
      if (!r.ext.ok || !r.setup.result.ok || !r.clear.ok) failedFlows++;
      expect(r.end.violations, `allocation ${n}`).toEqual([]);
      expect(m.cache.hazards, `allocation ${n}`).toEqual([]);
    }
    expect(failedFlows).toBe(allocPoints);
  });

  it("every SEAMCALL failing in turn (a status of its class): stranded pages reported, the rest conserved", () => {
    const failing = {
      [LEAF["TDH.SYS.RD"]]: STATUS.TDX_METADATA_FIELD_NOT_READABLE,
      [LEAF["TDH.SYS.CONFIG"]]: STATUS.TDX_OP_STATE_INCORRECT,
      [LEAF["TDH.EXT.MEM.ADD"]]: STATUS.TDX_PAGE_METADATA_INCORRECT,
      [LEAF["TDH.EXT.INIT"]]: STATUS.TDX_OP_STATE_INCORRECT,
      // (OPERAND_BUSY is contention, which the host retries: see the next test.)
      [LEAF["TDH.IOMMU.SETUP"]]: STATUS.TDX_PAGE_METADATA_INCORRECT,
      [LEAF["TDH.IOMMU.CLEAR"]]: STATUS.TDX_OPERAND_INVALID,
      [LEAF["TDH.PHYMEM.PAGE.WBINVD"]]: STATUS.TDX_PAGE_METADATA_INCORRECT,
    } as Record<number, { hi: number }>;
    let points = 0;
    let stranded = 0;
    for (const [leaf, count] of callsByLeaf) {
      for (let nth = 1; nth <= count; nth++) {
        const m = machine();
        m.module.forceStatus({ leaf, nth, status: { lo: 1, hi: failing[leaf]!.hi } });
        const r = iommuRoundTrip(m);
        points++;
        expect(r.ext.ok && r.setup.result.ok && r.clear.ok, `leaf ${leaf} call ${nth}`).toBe(false);
        expect(r.end.violations, `leaf ${leaf} call ${nth}`).toEqual([]);
        expect(m.cache.hazards, `leaf ${leaf} call ${nth}`).toEqual([]);
        const strandedHere = r.end.totals.stranded;
        stranded += strandedHere;
        expect(strandedHere).toBe(m.kernel.ledger.strandReports.reduce((s, x) => s + x.pfns.length, 0));
      }
    }
    expect(points).toBe(callsByLeaf.reduce((s, [, c]) => s + c, 0));
    expect(stranded).toBeGreaterThan(0);
  });

  it("OPERAND_BUSY on a call the kernel re-issues is retried, as the kernel does: the flows succeed", () => {
    for (const leaf of [LEAF["TDH.IOMMU.SETUP"], LEAF["TDH.IOMMU.CLEAR"], LEAF["TDH.EXT.MEM.ADD"]]) {
      const m = machine();
      m.module.forceStatus({ leaf, nth: 1, status: { lo: 2, hi: STATUS.TDX_OPERAND_BUSY.hi } });
      const r = iommuRoundTrip(m);
      expect(r.ext.ok && r.setup.result.ok && r.clear.ok, `leaf ${leaf}`).toBe(true);
      expect(m.module.callsByLeaf.get(leaf), `leaf ${leaf}`).toBe((new Map(callsByLeaf).get(leaf) ?? 0) + 1);
      expect(r.end.violations).toEqual([]);
    }
  });
});
