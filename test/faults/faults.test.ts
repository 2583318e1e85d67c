/**
 * Exhaustive single-fault injection over `bring-up` then `teardown` (src/faults/campaign.ts): every
 * allocation and every SEAMCALL of a clean run fails in turn, each SEAMCALL with every failing status its
 * leaf can return; then seeded multi-fault schedules; then the size runs (a 1,048,576-page pool, 256
 * devices). Every run must conserve pages, cause no hazard, no model report and no exception, and report
 * every page it strands. The whole single-fault set runs here (about 15 s measured on this machine).
 */
import { describe, expect, it } from "vitest";
import { LEAF, type LeafName, STATUS } from "../../src/common/status.js";
import {
  cleanProfile,
  defaultFaultConfig,
  enumeratePoints,
  type FaultPoint,
  type FaultReport,
  runMultiFaults,
  runSingleFaults,
  runWithFaults,
  stratify,
} from "../../src/faults/campaign.js";
import { failingStatuses, LEAF_FAILURES, UNIVERSAL_FAILURES } from "../../src/faults/fault-table.js";
import { bigPoolRun, manyDevicesRun } from "../../src/faults/size-runs.js";

const cfg = defaultFaultConfig();
const profile = cleanProfile(cfg);
const all = enumeratePoints(profile);

function expectClean(r: FaultReport): void {
  expect(r.findings).toEqual([]);
  expect(r.conservationFailures).toBe(0);
  expect(r.hazards).toBe(0);
  expect(r.modelReports).toBe(0);
  expect(r.untypedExceptions).toBe(0);
  expect(r.typedExceptions).toBe(0);
  expect(r.unreportedStranding).toBe(0);
  expect(r.heldAfterTeardown).toBe(0);
  expect(r.sweepFailures).toBe(0);
  expect(r.policyFailures).toBe(0);
}

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

describe("single-fault injection over bring-up + teardown (pool 1024 pages)", () => {
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

  // The full set, in groups so each test stays short: allocations, then the calls of each leaf.
  const groups = new Map<string, FaultPoint[]>();
  for (const p of all) {
    const key = p.kind === "alloc" ? "allocations" : p.kind === "evict" ? "evictions" : `leaf ${p.leaf}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(p);
  }
  const reports: FaultReport[] = [];
  it.each([...groups.keys()])(
    "every point of %s: conserved, no hazard, no exception, stranding reported",
    (key) => {
      const r = runSingleFaults(cfg, { profile, points: groups.get(key)! });
      reports.push(r);
      expectClean(r);
      expect(r.runs).toBe(groups.get(key)!.length);
      expect(r.faultsFired).toBe(r.runs);
    },
  );

  it("covers every injection point once", () => {
    const covered = reports.reduce((s, r) => s + r.pointsCovered, 0);
    expect(covered).toBe(all.length);
    expect(reports.reduce((s, r) => s + r.runs, 0)).toBe(all.length);
    // Failures strand pages somewhere (the extension pool at least), and every allocation failure is noticed.
    expect(reports.reduce((s, r) => s + r.strandedPages, 0)).toBeGreaterThan(0);
    const allocs = reports.find((r) => r.runs === profile.allocations && r.strandedByFlow !== undefined)!;
    expect(allocs.runsWithFailedFlow).toBe(profile.allocations);
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

describe("multi-fault schedules", () => {
  it.each([2, 3, 5])("300 seeded schedules of %i faults: conserved, no hazard, no exception", (k) => {
    const r = runMultiFaults(cfg, { k, schedules: 300, seed: 1000 + k, profile });
    expectClean(r);
    expect(r.runs).toBe(300);
    expect(r.faultsFired).toBeGreaterThan(300);
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
