import { describe, expect, it } from "vitest";
import { BenchFailure, flatRun, SMALL } from "../../bench/bringup.js";

// The focused flatness micro-run of bench/bringup.ts (`--flat`): its bookkeeping, not its times (no test
// asserts a time). Small sizes keep it to a fraction of a second.
describe("bench bring-up flatness micro-run", () => {
  it("counts the runs of each size and keeps GC-free figures at or below the wall figures", async () => {
    const lines: string[] = [];
    const r = await flatRun(2 * SMALL, { kind: "none" }, "none", {
      warm: 1,
      rounds: 2,
      smallPerRound: 2,
      log: (l) => lines.push(l),
    });
    expect(r.small.pages).toBe(SMALL);
    expect(r.small.runs).toBe(4);
    expect(r.large.pages).toBe(2 * SMALL);
    expect(r.large.runs).toBe(2);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^ {2}round 1: 25,600 pages [\d.]+ us\/page \(GC [\d.]+ ms of [\d.]+ ms\)$/);
    for (const s of [r.small, r.large]) {
      expect(s.minUsPerPage).toBeGreaterThan(0);
      expect(s.minUsPerPageNoGc).toBeGreaterThanOrEqual(0);
      expect(s.minUsPerPageNoGc).toBeLessThanOrEqual(s.minUsPerPage);
      expect(s.gcShare).toBeGreaterThanOrEqual(0);
      expect(s.gcShare).toBeLessThanOrEqual(1);
    }
    expect(r.ratio).toBeCloseTo(r.large.minUsPerPage / r.small.minUsPerPage, 12);
    expect(r.ratioNoGc).toBeCloseTo(r.large.minUsPerPageNoGc / r.small.minUsPerPageNoGc, 12);
  });

  it("rejects with BenchFailure when a run does not bring the pool up (a pool larger than memory)", async () => {
    // 2^26 pool pages (256 GiB) on the default platform: allocation fails, and oneRun's check says so.
    await expect(
      flatRun(2 ** 26, { kind: "none" }, "none", { warm: 0, rounds: 1, smallPerRound: 0 }),
    ).rejects.toBeInstanceOf(BenchFailure);
  });
});
