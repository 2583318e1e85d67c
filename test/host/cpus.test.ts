/**
 * PAMT entry locks and logical CPUs (src/module/locks.ts, src/host/cpus.ts; docs/spec/03-module.md
 * 3.2): shared/exclusive locks per PAMT entry with the host-priority bit; a call on another CPU that
 * runs while CPU 0's call holds a page's lock gets TDX_OPERAND_BUSY naming the operand and the host
 * retries; every lock is released before a SEAMCALL returns; single-CPU runs see no contention.
 */
import { describe, expect, it } from "vitest";
import { LEAF, REG, STATUS, statusText } from "../../src/common/status.js";
import { hpaToU64, type U64 } from "../../src/common/u64.js";
import { iommuSetupAll } from "../../src/host/flows/iommu.js";
import type { Page } from "../../src/host/page.js";
import { tdxPageArrayCreate } from "../../src/host/page-array.js";
import { callRegs } from "../../src/host/seamcalls/index.js";
import { addCpus } from "../../src/machine.js";
import type { CallRecord } from "../../src/module/emulator.js";
import { PamtLocks } from "../../src/module/locks.js";
import { PT } from "../../src/module/pamt.js";
import { checkConservation } from "../../src/observe/conservation.js";
import { machine as newMachine, platformWith } from "../support/machine.js";

const hpa = (p: Page): U64 => hpaToU64(p.hpa);

function setup(pool = 16) {
  const machine = newMachine({}, platformWith({ MEMORY_POOL_REQUIRED_PAGES: pool }));
  const a = machine.alloc.allocPagesBulk(8, { tag: "test:a", zero: true });
  const b = machine.alloc.allocPagesBulk(8, { tag: "test:b", zero: true });
  const listA = tdxPageArrayCreate(machine.kernel, a, 8)!.toHpaListInfo();
  const listB = tdxPageArrayCreate(machine.kernel, b, 8)!.toHpaListInfo();
  const records: CallRecord[] = [];
  machine.module.onCall = (r) => records.push(r);
  return { machine, a, b, listA, listB, records };
}

describe("the PAMT lock table", () => {
  it("shared with shared, exclusive with nothing; 1G and 2M levels are taken shared", () => {
    const t = new PamtLocks();
    expect(t.acquire(0, 100, "shared")).toBe("ok");
    expect(t.acquire(1, 100, "shared")).toBe("ok");
    expect(t.acquire(2, 100, "exclusive")).toBe("busy");
    expect(t.acquire(2, 101, "exclusive")).toBe("ok"); // same 2M and 1G entries, shared by both
    expect(t.heldBy(0)).toBe(3);
    t.releaseAll(0);
    t.releaseAll(1);
    expect(t.acquire(3, 100, "exclusive")).toBe("ok");
    expect(t.acquire(0, 100, "shared")).toBe("busy");
  });

  it("host priority: a host that fails an exclusive lock sets the bit; a guest then gets BUSY_HOST_PRIORITY", () => {
    const t = new PamtLocks();
    expect(t.acquire(0, 7, "shared", "guest")).toBe("ok");
    expect(t.acquire(1, 7, "exclusive", "host")).toBe("busy");
    expect(t.entry(7).hostPriority).toBe(true);
    expect(t.acquire(2, 7, "shared", "guest")).toBe("busy-host-priority");
    t.releaseAll(0);
    expect(t.acquire(1, 7, "exclusive", "host")).toBe("ok");
    expect(t.entry(7).hostPriority).toBe(false);
    t.releaseAll(1);
    expect(t.entry(7)).toEqual({ exclusive: -1, shared: 0, hostPriority: false });
  });

  it("a refused walk keeps nothing", () => {
    const t = new PamtLocks();
    t.acquire(0, 5, "exclusive");
    expect(t.acquire(1, 5, "exclusive")).toBe("busy");
    expect(t.heldBy(1)).toBe(0);
  });
});

describe("two logical CPUs", () => {
  it("RDMD on CPU 1 of the page CPU 0's EXT.MEM.ADD holds → OPERAND_BUSY(RCX), retried to success", () => {
    const { machine, a, listA, records } = setup();
    const cpus = addCpus(machine, { cpus: 2, seed: 1, p: 1 });
    cpus.submit(1, [{ leaf: LEAF["TDH.PHYMEM.PAGE.RDMD"], inputs: { [REG.RCX]: hpa(a[0]!) } }]);
    const r = callRegs("TDH.EXT.MEM.ADD", { [REG.RCX]: listA });
    machine.kernel.seamcall(r);
    expect(statusText(r.get(REG.RAX))).toBe("TDX_SUCCESS");
    cpus.drain();
    const busy = records.find(
      (x) => x.leaf === LEAF["TDH.PHYMEM.PAGE.RDMD"] && x.status.hi === STATUS.TDX_OPERAND_BUSY.hi,
    );
    expect(busy?.status.lo).toBe(REG.RCX);
    expect(cpus.results).toHaveLength(1);
    expect(cpus.results[0]!.busyRetries).toBe(1);
    expect(statusText(cpus.results[0]!.status)).toBe("TDX_SUCCESS");
    expect(cpus.results[0]!.regs.lo(REG.RCX)).toBe(PT.EXT_POOL);
    expect(machine.module.pamtLocks.heldBy(0) + machine.module.pamtLocks.heldBy(1)).toBe(0);
  });

  it("two EXT.MEM.ADDs of different lists interleave and both donate everything; conservation holds", () => {
    const { machine, a, b, listA, listB } = setup();
    const cpus = addCpus(machine, { cpus: 2, seed: 3, p: 0.5 });
    cpus.submit(1, [
      { leaf: LEAF["TDH.PHYMEM.PAGE.RDMD"], inputs: { [REG.RCX]: hpa(a[3]!) } },
      { leaf: LEAF["TDH.EXT.MEM.ADD"], inputs: { [REG.RCX]: listB } },
    ]);
    const r = callRegs("TDH.EXT.MEM.ADD", { [REG.RCX]: listA });
    machine.kernel.seamcall(r);
    cpus.drain();
    expect(statusText(r.get(REG.RAX))).toBe("TDX_SUCCESS");
    expect(cpus.results.map((x) => statusText(x.status))).toEqual(["TDX_SUCCESS", "TDX_SUCCESS"]);
    for (const p of [...a, ...b]) {
      expect(machine.module.pamt.type(p.pfn)).toBe(PT.EXT_POOL);
      machine.kernel.ledger.donated.set(p.pfn, "extension memory pool");
    }
    expect(checkConservation(machine).ok).toBe(true);
  });

  it("PAGE.WBINVD on CPU 1 of a page CPU 0 is claiming → OPERAND_BUSY(RCX), then PAGE_METADATA_INCORRECT", () => {
    const { machine, a, listA, records } = setup();
    const cpus = addCpus(machine, { cpus: 2, seed: 1, p: 1 });
    const keyed = a[0]!.hpa + machine.platform.keyIds.global * 2 ** machine.platform.keyIds.shift;
    cpus.submit(1, [{ leaf: LEAF["TDH.PHYMEM.PAGE.WBINVD"], inputs: { [REG.RCX]: hpaToU64(keyed) } }]);
    machine.kernel.seamcall(callRegs("TDH.EXT.MEM.ADD", { [REG.RCX]: listA }));
    cpus.drain();
    const w = records.filter((x) => x.leaf === LEAF["TDH.PHYMEM.PAGE.WBINVD"]).map((x) => x.statusText);
    expect(w).toEqual(["TDX_OPERAND_BUSY(RCX)", "TDX_PAGE_METADATA_INCORRECT(RCX)"]);
  });

  it("CPU 0's retry of an OPERAND_BUSY call relaxes: the other CPUs' queued calls run meanwhile", () => {
    const { machine, a } = setup();
    const cpus = addCpus(machine, { cpus: 2, seed: 1, p: 0 });
    cpus.submit(1, [{ leaf: LEAF["TDH.PHYMEM.PAGE.RDMD"], inputs: { [REG.RCX]: hpa(a[0]!) } }]);
    machine.module.forceStatus({
      leaf: LEAF["TDH.IOMMU.SETUP"],
      nth: 1,
      status: { lo: 2, hi: STATUS.TDX_OPERAND_BUSY.hi },
    });
    const up = iommuSetupAll(machine.kernel, machine.platform.iommus);
    expect(up.result.ok).toBe(true);
    expect(cpus.pending).toBe(0);
    expect(cpus.results.map((x) => statusText(x.status))).toEqual(["TDX_SUCCESS"]);
  });

  it("one CPU: the same calls never see OPERAND_BUSY", () => {
    const { machine, a, listA, records } = setup();
    machine.kernel.seamcall(callRegs("TDH.PHYMEM.PAGE.RDMD", { [REG.RCX]: hpa(a[0]!) }));
    machine.kernel.seamcall(callRegs("TDH.EXT.MEM.ADD", { [REG.RCX]: listA }));
    expect(records.map((x) => x.statusText)).toEqual(["TDX_SUCCESS", "TDX_SUCCESS"]);
    expect(machine.module.pamtLocks.busyCount).toBe(0);
  });

  it("rejects a bad schedule with a typed error", () => {
    const { machine } = setup();
    expect(() => addCpus(machine, { cpus: 1, seed: 0, p: 0.5 })).toThrow(/cpus/);
    expect(() => addCpus(machine, { cpus: 2, seed: 0, p: 2 })).toThrow(/0\.\.1/);
    expect(() => addCpus(machine, { cpus: 2, seed: 0, p: 1 }).submit(2, [])).toThrow(/1\.\.1/);
  });
});

describe("the shipped two-CPU scenario", () => {
  it("contends (OPERAND_BUSY retried), both donations complete, conservation holds, exit 0", async () => {
    const { readFileSync } = await import("node:fs");
    const { parse } = await import("yaml");
    const { parseScenario } = await import("../../src/scenario/schema.js");
    const { runScenario } = await import("../../src/scenario/runner.js");
    const s = parseScenario(parse(readFileSync("scenarios/two-cpus.yaml", "utf8")));
    const r = runScenario(s);
    expect(r.exitCode).toBe(0);
    expect(r.conservation.ok).toBe(true);
    expect(r.phases[5]?.calls["TDH.PHYMEM.PAGE.RDMD"]?.["TDX_OPERAND_BUSY(RCX)"]).toBe(1);
    // CPU 1's donation ran inside CPU 0's IOMMU setup flow.
    expect(r.phases[7]?.calls["TDH.EXT.MEM.ADD"]?.TDX_SUCCESS).toBe(1);
    expect(r.phases[8]?.detail).toMatch(/^2 call\(s\) on other CPUs, 1 OPERAND_BUSY retried/);
    // The trace names the CPU of every call not on CPU 0.
    const onCpu: (number | undefined)[] = [];
    runScenario(s, { onEvent: (e) => e.type === "seamcall" && onCpu.push(e.cpu), pageEvents: false });
    expect(onCpu.filter((c) => c === 1)).toHaveLength(3); // RDMD busy, RDMD, EXT.MEM.ADD
    expect(onCpu.filter((c) => c !== undefined && c !== 1)).toEqual([]);
  });
});

describe("scenario steps on other CPUs", () => {
  it("a state check before the join already counts the pages another CPU's finished call donated", async () => {
    const { parseScenario } = await import("../../src/scenario/schema.js");
    const { runScenario } = await import("../../src/scenario/runner.js");
    const r = runScenario(
      parseScenario({
        name: "pre-join",
        platform: { metadata: { MEMORY_POOL_REQUIRED_PAGES: 16 } },
        steps: [
          { alloc: "a", pages: 8 },
          { root: "la", format: "hpa-list-info", of: "a" },
          { alloc: "b", pages: 8 },
          { root: "lb", format: "hpa-list-info", of: "b" },
          { seamcall: "TDH.EXT.MEM.ADD", regs: { RCX: "@lb" }, cpu: 1, schedule: { seed: 5, p: 1 } },
          { seamcall: "TDH.EXT.MEM.ADD", regs: { RCX: "@la" }, expect: { status: "TDX_SUCCESS" } },
          { expect: { conservation: "ok", pages: { moduleOwned: 16 } } },
          { join: true, expect: { status: "TDX_SUCCESS" } },
        ],
      }),
    );
    expect(r.expectations.filter((e) => !e.ok)).toEqual([]);
    expect(r.exitCode).toBe(0);
  });

  it("rejects an expect on a call queued on another CPU, and a bad schedule, with the path", async () => {
    const { parseScenario } = await import("../../src/scenario/schema.js");
    const bad = (step: unknown) => () => parseScenario({ name: "x", steps: [step] });
    expect(bad({ seamcall: "TDH.SYS.RD", cpu: 1, expect: { status: "TDX_SUCCESS" } })).toThrow(
      /^steps\[0\]\.expect: expected no expect on a call queued on another CPU/,
    );
    expect(bad({ seamcall: "TDH.SYS.RD", cpu: 1, schedule: { p: 2 } })).toThrow(/^steps\[0\]\.schedule\.p:/);
    expect(bad({ seamcall: "TDH.SYS.RD", cpu: 64 })).toThrow(/^steps\[0\]\.cpu:/);
    expect(bad({ join: 1 })).toThrow(/^steps\[0\]\.join: expected true/);
  });
});

describe("resumable calls on two CPUs", () => {
  it("an IOMMU.SETUP on CPU 1 while CPU 0's SETUP runs never resumes its state: both units come up", async () => {
    const { allocIommuMtPages } = await import("../../src/host/flows/iommu.js");
    const { machine } = setup();
    const cpus = addCpus(machine, { cpus: 2, seed: 1, p: 1 });
    const [u0, u1] = machine.platform.iommus.filter((u) => u.tdxCapable);
    const pages = allocIommuMtPages(machine.kernel, machine.platform.metadata.IOMMU_MT_PAGE_COUNT)!;
    const mt = tdxPageArrayCreate(machine.kernel, pages, pages.length)!;
    cpus.submit(1, [
      {
        leaf: LEAF["TDH.IOMMU.SETUP"],
        inputs: { [REG.RCX]: hpaToU64(u1!.regBase), [REG.RDX]: mt.toIommuMt() },
      },
    ]);
    const up = iommuSetupAll(machine.kernel, [u0!]);
    cpus.drain();
    expect(up.result.ok).toBe(true);
    expect(cpus.results.map((x) => statusText(x.status))).toEqual(["TDX_SUCCESS"]);
    for (const p of pages) expect(machine.module.pamt.type(p.pfn)).toBe(PT.IOMMU_MT);
  });
});
