/**
 * The kernel's rules for the TDX Connect flows (docs/spec/02-kapi.md 2.3–2.5, 03-module.md 3.3), by
 * fault injection: the IOMMU probe (skip on TDX_OPERAND_INVALID with any operand id; any other SETUP
 * failure clears the units set up and fails TDX Connect initialisation), the teardown rules (a failed
 * KM STOP is ignored), the non-re-entrant v2 lock under a key refresh during CONNECT, the extension
 * lock's scope, the TDX_FEATURES0 bit 6 gate, the flush flag set before the SEAMCALL (and the
 * set-on-success variant), the function id's bit 24, the leaves the kernel calls once, and
 * TDX_INTERRUPTED_RESUMABLE without detail bits.
 */
import { describe, expect, it } from "vitest";
import { LEAF, type LeafName, REG, STATUS } from "../../src/common/status.js";
import { extensionsBringUp } from "../../src/host/flows/extensions.js";
import { ideStreamSetup, ideStreamTeardown } from "../../src/host/flows/ide.js";
import { allocIommuMtPages } from "../../src/host/flows/iommu.js";
import { spdmSessionConnect } from "../../src/host/flows/spdm.js";
import type { HostPolicy } from "../../src/host/kernel.js";
import { tdxPageArrayCreate, tdxPageArrayDestroy } from "../../src/host/page-array.js";
import { iommuSetup, MAX_BUSY_RETRIES, spdmCreate } from "../../src/host/seamcalls/index.js";
import { functionId } from "../../src/host/spdm.js";
import { defaultPlatform, FEATURE_BITS, type Platform } from "../../src/hw/platform.js";
import type { Machine, MachineOptions } from "../../src/machine.js";
import { checkConservation } from "../../src/observe/conservation.js";
import { fullRun } from "../support/flows.js";
import { machine as newMachine, platformWith } from "../support/machine.js";

const mk = (opts: MachineOptions = {}, over: Partial<Platform["metadata"]> = {}) =>
  newMachine(opts, platformWith({ MEMORY_POOL_REQUIRED_PAGES: 512, ...over }));

const capable = (machine: Machine) => machine.platform.iommus.filter((u) => u.tdxCapable).length;

describe("IOMMU probing", () => {
  it("TDX_OPERAND_INVALID on RDX for one unit: skipped like a non-capable one, the rest goes on", () => {
    const machine = mk();
    machine.module.forceStatus({
      leaf: LEAF["TDH.IOMMU.SETUP"],
      nth: 1,
      status: { lo: REG.RDX, hi: STATUS.TDX_OPERAND_INVALID.hi },
    });
    const r = fullRun(machine);
    expect(r.io.result.ok).toBe(true);
    expect(r.io.result.details).toMatchObject({ unitsSetUp: capable(machine) - 1, unitsSkipped: 3 });
    expect(r.up.result.ok).toBe(true);
    expect(r.up.built.sessions).toHaveLength(3);
    expect(r.down.ok).toBe(true);
    expect(r.end.violations).toEqual([]);
    expect(machine.cache.hazards).toEqual([]);
  });

  it("any other SETUP failure: the units set up are cleared, TDX Connect fails, no SPDM or IDE call follows", () => {
    const machine = mk();
    // The fourth SETUP (dmar3, after two units set up and one skipped) fails on a page already taken
    // (a BUSY would be retried: contention is the host's to wait out).
    machine.module.forceStatus({
      leaf: LEAF["TDH.IOMMU.SETUP"],
      nth: 4,
      status: { lo: REG.RDX, hi: STATUS.TDX_PAGE_METADATA_INCORRECT.hi },
    });
    const r = fullRun(machine);
    expect(r.io.result.ok).toBe(false);
    expect(r.io.result.failedStep).toBe("TDH.IOMMU.SETUP dmar3-socket1-pcie0");
    expect(r.io.setups).toEqual([]);
    expect(r.n("TDH.IOMMU.SETUP")).toBe(4);
    expect(r.n("TDH.IOMMU.CLEAR")).toBe(2);
    expect(r.up.result.details.skipped).toMatch(/TDX Connect initialisation failed: TDH.IOMMU.SETUP dmar3/);
    for (const leaf of ["TDH.SPDM.CREATE", "TDH.SPDM.CONNECT", "TDH.IDE.STREAM.CREATE"] as const)
      expect(r.n(leaf), leaf).toBe(0);
    expect(r.end.violations).toEqual([]);
    expect(r.end.totals.stranded).toBe(0);
    expect(machine.cache.hazards).toEqual([]);
  });

  it("a failed extensions bring-up stops the later flows too", () => {
    const machine = mk();
    machine.module.forceStatus({
      leaf: LEAF["TDH.EXT.INIT"],
      nth: 1,
      status: { lo: 0, hi: STATUS.TDX_OP_STATE_INCORRECT.hi },
    });
    const r = fullRun(machine);
    expect(r.ext.ok).toBe(false);
    expect(r.n("TDH.IOMMU.SETUP")).toBe(0);
    expect(r.n("TDH.SPDM.CREATE")).toBe(0);
    expect(r.io.result.details.skipped).toMatch(/extensions bring-up: TDH.EXT.INIT/);
  });

  it("TDX Connect needs TDX_FEATURES0 bit 6: without it no IOMMU, SPDM or IDE call", () => {
    const machine = mk({}, { TDX_FEATURES0_BITS: [FEATURE_BITS.EXTENSIONS] });
    const r = fullRun(machine);
    expect(r.ext.ok).toBe(true);
    expect(r.io.result.details.skipped).toMatch(/TDX_FEATURES0 bit 6/);
    expect(r.up.result.details.skipped).toMatch(/TDX_FEATURES0 bit 6/);
    expect(r.n("TDH.IOMMU.SETUP") + r.n("TDH.SPDM.CREATE")).toBe(0);
    // SYS.CONFIG asked for no feature: the module has no TDX Connect to enable.
    const cfg = r.calls.find((c) => c.leaf === LEAF["TDH.SYS.CONFIG"])!;
    expect([cfg.regsIn[2 * REG.R9], cfg.regsIn[2 * REG.R9 + 1]]).toEqual([0, 0]);
  });
});

/** A BUSY that lasts: the call and every one of the host's bounded BUSY retries get TDX_OPERAND_BUSY. */
function forceBusy(machine: Machine, leaf: LeafName, nth: number): void {
  for (let i = 0; i <= MAX_BUSY_RETRIES; i++)
    machine.module.forceStatus({
      leaf: LEAF[leaf],
      nth: nth + i,
      status: { lo: 0, hi: STATUS.TDX_OPERAND_BUSY.hi },
    });
}

describe("teardown on failure", () => {
  it("BUSY on KM STOP: ignored, BLOCK and DELETE still run, nothing stranded", () => {
    const machine = mk();
    // KM calls: 3 SETUPs of 5 calls each (4 requests + done), then the first STOP.
    forceBusy(machine, "TDH.IDE.STREAM.KM", 16);
    const r = fullRun(machine);
    expect(r.up.result.ok).toBe(true);
    expect(r.n("TDH.IDE.STREAM.BLOCK")).toBe(3);
    expect(r.n("TDH.IDE.STREAM.DELETE")).toBe(3);
    expect(r.down.ok).toBe(true);
    expect(r.end.totals.stranded).toBe(0);
    expect(r.end.violations).toEqual([]);
    expect(machine.cache.hazards).toEqual([]);
    expect(machine.kernel.ledger.strandReports).toEqual([]);
  });

  it("the failed KM STOP is recorded as a warning of the stream's teardown", () => {
    const machine = mk();
    extensionsBringUp(machine.kernel);
    const s = spdmSessionConnect(machine.kernel, machine.platform.devices![0]!).session!;
    const st = ideStreamSetup(machine.kernel, s, machine.platform.rootPorts!, 0).stream!;
    const next = (machine.module.callsByLeaf.get(LEAF["TDH.IDE.STREAM.KM"]) ?? 0) + 1;
    forceBusy(machine, "TDH.IDE.STREAM.KM", next);
    const t = ideStreamTeardown(machine.kernel, st);
    expect(t.ok).toBe(true);
    expect(t.details.warning).toMatch(
      /TDH.IDE.STREAM.KM STOP nvme0-ssd failed \(ignored\): TDX_OPERAND_BUSY/,
    );
  });

  it("a failed DISCONNECT only warns; DELETE still runs (and strands when the module refuses it)", () => {
    const machine = mk();
    forceBusy(machine, "TDH.SPDM.DISCONNECT", 1);
    const r = fullRun(machine);
    expect(r.n("TDH.SPDM.DELETE")).toBe(3);
    // The session is still connected in the module, so its DELETE is refused: those pages are stranded.
    expect(r.end.totals.stranded).toBe(machine.platform.metadata.SPDM_MT_PAGE_COUNT + 1);
    expect(r.end.violations).toEqual([]);
  });
});

describe("the extension lock", () => {
  it("v2's non-re-entrant lock: a key refresh during CONNECT is reported as the kernel's deadlock", () => {
    for (const reentrant of [true, false]) {
      const machine = mk({ policy: { extLockReentrant: reentrant } });
      extensionsBringUp(machine.kernel);
      const mngBefore = machine.module.callsByLeaf.get(LEAF["TDH.SPDM.MNG"]) ?? 0;
      machine.module.forceStatus({
        leaf: LEAF["TDH.SPDM.CONNECT"],
        nth: 3,
        status: { lo: 0, hi: STATUS.TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH.hi },
      });
      const c = spdmSessionConnect(machine.kernel, machine.platform.devices![0]!);
      expect(c.result.ok).toBe(false);
      const deadlocks = machine.module.reports.filter((x) => x.kind === "ext-lock-deadlock");
      const mng = (machine.module.callsByLeaf.get(LEAF["TDH.SPDM.MNG"]) ?? 0) - mngBefore;
      if (reentrant) {
        expect(deadlocks).toEqual([]);
        expect(mng).toBe(1); // KEY_UPDATE issued (refused: the session is not connected yet)
      } else {
        expect(deadlocks).toHaveLength(1);
        expect(deadlocks[0]!.message).toMatch(
          /host bug: spdm nvme0-ssd takes the extension lock it already holds/,
        );
        expect(mng).toBe(0);
      }
      expect(checkConservation(machine).violations).toEqual([]);
    }
  });

  it("scope: v2 locks CONNECT, DISCONNECT and MNG only; the earlier design also CREATE, DELETE and KM", () => {
    for (const scope of ["v2", "all-spdm"] as const) {
      const machine = mk({ policy: { extLockScope: scope } });
      extensionsBringUp(machine.kernel);
      machine.kernel.extLock.holder = "someone else";
      const c = spdmSessionConnect(machine.kernel, machine.platform.devices![0]!);
      expect(c.result.ok).toBe(false);
      // Under v2 CREATE ran without the lock and CONNECT was the call refused.
      expect(c.result.failedStep).toBe(`TDH.SPDM.${scope === "v2" ? "CONNECT" : "CREATE"} nvme0-ssd`);
      expect(machine.module.callsByLeaf.get(LEAF["TDH.SPDM.CREATE"]) ?? 0).toBe(scope === "v2" ? 1 : 0);
      machine.kernel.extLock.holder = null;
      expect(checkConservation(machine).violations).toEqual([]);
    }
  });
});

describe("the flush flag", () => {
  /** Policy variants: the kernel's rule and the earlier set-on-success. */
  const variants: HostPolicy["flushFlag"][] = ["before-call", "on-success"];

  it("after a failed create: the kernel's rule writes the pages back at destroy, on-success does not", () => {
    for (const flushFlag of variants) {
      const machine = mk({ policy: { flushFlag } });
      extensionsBringUp(machine.kernel);
      const incapable = machine.platform.iommus.find((u) => !u.tdxCapable)!;
      const pages = allocIommuMtPages(machine.kernel, machine.platform.metadata.IOMMU_MT_PAGE_COUNT)!;
      const a = tdxPageArrayCreate(machine.kernel, pages, pages.length)!;
      const r = iommuSetup(machine.kernel, incapable.regBase, a);
      expect(r.status.hi).toBe(STATUS.TDX_OPERAND_INVALID.hi);
      expect(a.flushOnFree).toBe(flushFlag === "before-call");
      const wb0 = machine.module.callsByLeaf.get(LEAF["TDH.PHYMEM.PAGE.WBINVD"]) ?? 0;
      tdxPageArrayDestroy(machine.kernel, a);
      const wb = (machine.module.callsByLeaf.get(LEAF["TDH.PHYMEM.PAGE.WBINVD"]) ?? 0) - wb0;
      expect(wb).toBe(flushFlag === "before-call" ? 20 : 0);
      expect(machine.cache.hazards).toEqual([]);
    }
  });

  it("after a partly done create (interrupted, then failing on the re-issue): the same difference", () => {
    for (const flushFlag of variants) {
      const machine = mk({ policy: { flushFlag }, interrupts: { kind: "every", k: 3 } });
      extensionsBringUp(machine.kernel);
      machine.module.setInterrupts({ kind: "every", k: 3 });
      const unit = machine.platform.iommus.find((u) => u.tdxCapable)!;
      const pages = allocIommuMtPages(machine.kernel, machine.platform.metadata.IOMMU_MT_PAGE_COUNT)!;
      const a = tdxPageArrayCreate(machine.kernel, pages, pages.length)!;
      const n = machine.module.callsByLeaf.get(LEAF["TDH.IOMMU.SETUP"]) ?? 0;
      // The first call claims 3 entries and is interrupted; the re-issue fails: the module rolls back.
      machine.module.forceStatus({
        leaf: LEAF["TDH.IOMMU.SETUP"],
        nth: n + 2,
        status: { lo: REG.RDX, hi: STATUS.TDX_PAGE_METADATA_INCORRECT.hi },
      });
      const r = iommuSetup(machine.kernel, unit.regBase, a);
      expect(r.interrupts).toBe(1);
      expect(r.status.hi).toBe(STATUS.TDX_PAGE_METADATA_INCORRECT.hi);
      expect(a.flushOnFree).toBe(flushFlag === "before-call");
      const d = tdxPageArrayDestroy(machine.kernel, a);
      expect(d.failedPfns).toEqual([]);
      expect(checkConservation(machine).violations).toEqual([]);
    }
  });

  it("the SPDM create wrapper follows the same rule", () => {
    for (const flushFlag of variants) {
      const machine = mk({ policy: { flushFlag } });
      extensionsBringUp(machine.kernel);
      const pages = machine.alloc.allocPagesBulk(3, { tag: "t", zero: true });
      const a = tdxPageArrayCreate(machine.kernel, pages, pages.length)!;
      // 3 pages where SPDM_MT_PAGE_COUNT is 8: TDX_OPERAND_INVALID (RDX).
      const r = spdmCreate(machine.kernel, machine.platform.devices![0]!, a);
      expect(r.status).toEqual({ lo: REG.RDX, hi: STATUS.TDX_OPERAND_INVALID.hi });
      expect(a.flushOnFree).toBe(flushFlag === "before-call");
    }
  });

  it("the default run's skipped IOMMU units are written back before they are freed", () => {
    const machine = mk();
    const r = fullRun(machine);
    const skipped = machine.platform.iommus.filter((u) => !u.tdxCapable).length;
    const perUnit =
      2 * 2 ** machine.platform.metadata.iqOrder + machine.platform.metadata.IOMMU_MT_PAGE_COUNT;
    const setupWb = r.calls.filter(
      (c, i) =>
        c.leaf === LEAF["TDH.PHYMEM.PAGE.WBINVD"] &&
        i < r.calls.findIndex((x) => x.leaf === LEAF["TDH.SPDM.CREATE"]),
    );
    expect(setupWb).toHaveLength(skipped * perUnit);
  });
});

describe("SPDM function id and the leaves the kernel calls once", () => {
  it("bit 24 (segment valid): always set by default; the other reading sets it only for a non-zero segment", () => {
    const d = defaultPlatform().devices![0]!;
    expect(functionId(d).lo >>> 24).toBe(1);
    expect(functionId(d, "non-zero-segment").lo >>> 24).toBe(0);
    expect(functionId({ ...d, segment: 2 }, "non-zero-segment").lo >>> 24).toBe(1);
    // The module accepts both readings: the run completes under either.
    const r = fullRun(mk({ policy: { segmentValid: "non-zero-segment" } }));
    expect(r.up.result.ok && r.down.ok).toBe(true);
    const create = r.calls.find((c) => c.leaf === LEAF["TDH.SPDM.CREATE"])!;
    expect(create.regsIn[2 * REG.RCX]! >>> 24).toBe(0);
  });

  it("no interrupt in SPDM.CREATE/DELETE, IDE.STREAM.CREATE/BLOCK/DELETE by default, even interrupting every unit", () => {
    const r = fullRun(mk({ interrupts: { kind: "every", k: 1 } }));
    expect(r.up.result.ok && r.down.ok).toBe(true);
    const once = [
      "TDH.SPDM.CREATE",
      "TDH.SPDM.DELETE",
      "TDH.IDE.STREAM.CREATE",
      "TDH.IDE.STREAM.BLOCK",
      "TDH.IDE.STREAM.DELETE",
    ];
    const interrupted = r.calls.filter(
      (c) => once.includes(c.leafName) && c.status.hi === STATUS.TDX_INTERRUPTED_RESUMABLE.hi,
    );
    expect(interrupted).toEqual([]);
    expect(r.calls.some((c) => c.status.hi === STATUS.TDX_INTERRUPTED_RESUMABLE.hi)).toBe(true);
  });

  it("behaviour interruptCallOnceLeaves: such an interrupt is reported, and the kernel fails the create", () => {
    const machine = mk({
      behaviours: { interruptCallOnceLeaves: true },
      interrupts: { kind: "every", k: 1 },
    });
    const r = fullRun(machine);
    expect(r.up.result.ok).toBe(false);
    expect(r.up.result.failedStatus).toBe("TDX_INTERRUPTED_RESUMABLE");
    const reports = machine.module.reports.filter((x) => x.kind === "call-once-interrupted");
    expect(reports.length).toBeGreaterThan(0);
    expect(reports[0]!.message).toMatch(
      /TDH.SPDM.CREATE interrupted at entry: the kernel calls this leaf once/,
    );
    expect(r.end.violations).toEqual([]);
  });

  it("TDX_INTERRUPTED_RESUMABLE never carries detail bits: bits 31:0 are zero on every one", () => {
    const r = fullRun(mk({ interrupts: { kind: "every", k: 1 } }));
    const all = r.calls.filter((c) => c.status.hi === STATUS.TDX_INTERRUPTED_RESUMABLE.hi);
    expect(all.length).toBeGreaterThan(100);
    for (const c of all) expect(c.status, c.leafName).toEqual({ lo: 0, hi: 0x8000_0003 });
  });

  it("statuses are compared in full, as the kernel does: low bits on a success or an interrupt are not success", () => {
    // TDX_SUCCESS with bits 31:0 set on the first IDE.STREAM.BLOCK: the kernel's `!= TDX_SUCCESS` fails it.
    const machine = mk();
    machine.module.forceStatus({ leaf: LEAF["TDH.IDE.STREAM.BLOCK"], nth: 1, status: { lo: 1, hi: 0 } });
    const r = fullRun(machine);
    expect(r.down.ok).toBe(false);
    expect(r.down.failedStep).toBe("TDH.IDE.STREAM.BLOCK nvme0-ssd");
    expect(r.end.violations).toEqual([]);
    // TDX_INTERRUPTED_RESUMABLE with a detail bit on EXT.INIT is not re-issued: the bring-up fails.
    const m2 = mk();
    m2.module.forceStatus({
      leaf: LEAF["TDH.EXT.INIT"],
      nth: 1,
      status: { lo: 1, hi: STATUS.TDX_INTERRUPTED_RESUMABLE.hi },
    });
    const e = extensionsBringUp(m2.kernel);
    expect(e.ok).toBe(false);
    expect(m2.module.callsByLeaf.get(LEAF["TDH.EXT.INIT"])).toBe(1);
  });
});
