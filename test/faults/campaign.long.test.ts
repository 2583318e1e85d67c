/**
 * The long part of the fault campaign (src/faults/campaign.ts), out of `npm test` and run by
 * `npm run test:all` (as CI does; vitest.config.ts): every allocation and every SEAMCALL of a clean
 * `bring-up` then `teardown` fails in turn, each SEAMCALL with every failing status its leaf can return,
 * then seeded multi-fault schedules. Every run must conserve pages, cause no hazard, no model report
 * and no exception, and report every page it strands. About 35 s of CPU on this machine (measured at
 * load average 5), a third of the rest of the suite together.
 */
import { describe, expect, it } from "vitest";
import {
  cleanProfile,
  defaultFaultConfig,
  enumeratePoints,
  type FaultPoint,
  type FaultReport,
  runMultiFaults,
  runSingleFaults,
} from "../../src/faults/campaign.js";

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

describe("single-fault injection over bring-up + teardown (pool 1024 pages)", () => {
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
});

describe("multi-fault schedules", () => {
  it.each([2, 3, 5])("300 seeded schedules of %i faults: conserved, no hazard, no exception", (k) => {
    const r = runMultiFaults(cfg, { k, schedules: 300, seed: 1000 + k, profile });
    expectClean(r);
    expect(r.runs).toBe(300);
    expect(r.faultsFired).toBeGreaterThan(300);
  });
});
