/**
 * The fault campaign (src/faults/campaign.ts) apart from its long exhaustive runs: the failing-status
 * table, the clean run's injection points and their stratified subset, wrong hosts and modules the
 * campaign must catch, and the size runs (a 1,048,576-page pool, 256 devices). The exhaustive
 * single-fault campaign (every allocation and every SEAMCALL failing in turn, with every failing status)
 * and the multi-fault schedules are in campaign.long.test.ts, which `npm test` leaves out and
 * `npm run test:all` (as CI does) runs.
 */
import { describe, expect, it } from "vitest";
import { LEAF, type LeafName, STATUS } from "../../src/common/status.js";
import {
  cleanProfile,
  defaultFaultConfig,
  enumeratePoints,
  type FaultPoint,
  runWithFaults,
  stratify,
} from "../../src/faults/campaign.js";
import { failingStatuses, LEAF_FAILURES, UNIVERSAL_FAILURES } from "../../src/faults/fault-table.js";
import { bigPoolRun, manyDevicesRun } from "../../src/faults/size-runs.js";

const cfg = defaultFaultConfig();
const profile = cleanProfile(cfg);
const all = enumeratePoints(profile);

describe("the failing-status table", () => {
  it("has a row for every leaf the emulator implements, with statuses that exist", () => {
    for (const name of Object.keys(LEAF_FAILURES) as LeafName[]) {
      for (const f of LEAF_FAILURES[name]!) expect(STATUS[f.name], `${name} ${f.name}`).toBeDefined();
    }
    for (const [leaf] of profile.callsByLeaf)
      expect(failingStatuses(leaf).length).toBeGreaterThan(UNIVERSAL_FAILURES.length);
    expect(failingStatuses(0xffff)).toHaveLength(1);
  });
});

describe("single-fault injection over bring-up + teardown (pool 1024 pages): its points", () => {
  it("the clean run is clean and reaches every flow leaf", () => {
    expect(profile.outcome.allOk).toBe(true);
    expect(profile.outcome.violations).toEqual([]);
    const leaves = new Set(profile.callsByLeaf.map(([l]) => l));
    for (const n of [
      "TDH.EXT.MEM.ADD",
      "TDH.EXT.INIT",
      "TDH.IOMMU.SETUP",
      "TDH.IOMMU.CLEAR",
      "TDH.SPDM.CREATE",
      "TDH.SPDM.CONNECT",
      "TDH.SPDM.DISCONNECT",
      "TDH.SPDM.DELETE",
      "TDH.IDE.STREAM.CREATE",
      "TDH.IDE.STREAM.KM",
      "TDH.IDE.STREAM.BLOCK",
      "TDH.IDE.STREAM.DELETE",
      "TDH.PHYMEM.PAGE.WBINVD",
      "TDH.SYS.RD",
    ] as const)
      expect(leaves.has(LEAF[n]), n).toBe(true);
    expect(profile.allocations).toBeGreaterThan(100);
  });

  it("the stratified subset keeps every allocation and every (leaf, status) site", () => {
    const sub = stratify(all, 2);
    const sites = (ps: readonly FaultPoint[]) =>
      new Set(
        ps.map((p) =>
          p.kind === "status"
            ? `${p.leaf} ${p.status.name} ${p.status.operand} ${p.status.effects}`
            : `${p.kind}${p.nth}`,
        ),
      );
    expect(sites(sub)).toEqual(sites(all));
    expect(sub.length).toBeLessThan(all.length);
  });
});

describe("the campaign catches what it should (tests that can fail)", () => {
  it("a wrong host (head-page-only write-back) shows hazards in the same harness", () => {
    const r = runWithFaults({ ...cfg, machine: { policy: { writeBack: "head-page-only" } } });
    expect(r.hazards).toBeGreaterThan(0);
  });

  it("a wrong module (DELETE omits a page) shows model reports", () => {
    const r = runWithFaults({ ...cfg, machine: { behaviours: { deleteOmitsOnePage: true } } });
    expect(r.modelReports).toBeGreaterThan(0);
  });

  it("a forced failure is noticed: SPDM.CONNECT refused strands nothing and fails the flow", () => {
    const r = runWithFaults(cfg, [
      {
        kind: "status",
        leaf: LEAF["TDH.SPDM.CONNECT"],
        nth: 1,
        status: { name: "TDX_OPERAND_INVALID", operand: 10 },
      },
    ]);
    expect(r.allOk).toBe(false);
    expect(r.violations).toEqual([]);
  });
});

describe("size", () => {
  it("a 1,048,576-page extension pool: bring-up and teardown complete, conserved", () => {
    const r = bigPoolRun();
    expect(r.violations).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.moduleOwnedAtEnd).toBe(1_048_576);
    expect(r.details["extensions.chunks"]).toBe(2048);
  });

  it("256 devices on 32 root ports: a session and a stream each, all torn down, conserved", () => {
    const r = manyDevicesRun(256);
    expect(r.violations).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.details["tdx-connect.sessions"]).toBe(256);
    expect(r.details["tdx-connect.streams"]).toBe(256);
    expect(r.hostHeldAtEnd).toBe(0);
  });
});
