/**
 * The regression corpus, test/fuzz/regressions.json: every failure fuzzing ever found and one case per
 * bug fixed since, replayed by `npm test` (docs/RELIABILITY.md). Kinds: `fuzz` vectors (no `kind`: a
 * target, seed and hex input, as `npm run fuzz` writes them) must judge clean; `cli` runs must end with
 * their exit code, at most one stderr line and no stack trace; `faults` runs of the fault campaign
 * (src/faults/campaign.ts) must be clean under the full judge; `scenario` runs must meet their
 * expectations; `contig` allocations must be aligned; `iommu-mt-entry` decodes must break their rule.
 * An empty corpus, or one missing a kind, is a failure.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromHex } from "../../fuzz/bytes.js";
import { judge, targetByName } from "../../fuzz/targets.js";
import { decodeIommuMtEntry } from "../../src/common/formats.js";
import { LEAF, type LeafName } from "../../src/common/status.js";
import { parseU64 } from "../../src/common/u64.js";
import { defaultFaultConfig, type FaultPoint, runWithFaults } from "../../src/faults/campaign.js";
import type { FailingStatus } from "../../src/faults/fault-table.js";
import { PageAllocator } from "../../src/host/page-alloc.js";
import { PhysMem } from "../../src/hw/physmem.js";
import { runScenario } from "../../src/scenario/runner.js";
import { parseScenario } from "../../src/scenario/schema.js";
import { runCli } from "../support/cli.js";

interface Vector {
  readonly kind?: "cli" | "faults" | "scenario" | "contig" | "iommu-mt-entry";
  readonly found: string;
  readonly problem: string;
  readonly [k: string]: unknown;
}

const vectors = JSON.parse(readFileSync(new URL("./regressions.json", import.meta.url), "utf8")) as Vector[];
const kindOf = (v: Vector) => v.kind ?? "fuzz";
const num = (s: unknown) => {
  const v = parseU64(String(s));
  return v.hi * 2 ** 32 + v.lo;
};

describe("the regression corpus", () => {
  it("is not empty and holds every kind, each naming where it was found and what went wrong", () => {
    expect(vectors.length).toBeGreaterThan(0);
    expect(new Set(vectors.map(kindOf))).toEqual(
      new Set(["fuzz", "cli", "faults", "scenario", "contig", "iommu-mt-entry"]),
    );
    for (const v of vectors) {
      expect(typeof v.problem === "string" && v.problem.length > 0, JSON.stringify(v)).toBe(true);
      expect(typeof v.found === "string" && v.found.length > 0, JSON.stringify(v)).toBe(true);
    }
  });

  const cases = vectors.map((v, i) => [`${i} ${kindOf(v)}: ${v.problem.slice(0, 90)}`, v] as const);
  it.each(cases)("%s", async (_name, v) => {
    switch (kindOf(v)) {
      case "fuzz": {
        const t = targetByName(String(v.target));
        expect(t, String(v.target)).toBeDefined();
        expect(judge(t!, fromHex(String(v.input))!)).toEqual({ ok: true });
        break;
      }
      case "cli": {
        const dir = mkdtempSync(join(tmpdir(), "tdxpa-regression-"));
        mkdirSync(dir, { recursive: true });
        for (const [name, text] of Object.entries((v.files ?? {}) as Record<string, string>))
          writeFileSync(join(dir, name), text);
        const argv = (v.argv as string[]).map((a) => a.replaceAll("$DIR", dir));
        const r = await runCli(argv);
        expect(r.code).toBe(v.exit);
        expect(r.err.length).toBeLessThanOrEqual(1);
        expect([...r.out, ...r.err].join("\n")).not.toMatch(/\n\s+at /);
        break;
      }
      case "faults": {
        const cfg = defaultFaultConfig();
        const faults = (v.faults as Record<string, unknown>[]).map(
          (f): FaultPoint =>
            f.kind === "status"
              ? {
                  kind: "status",
                  leaf: LEAF[f.leaf as LeafName],
                  nth: f.nth as number,
                  status: f.status as FailingStatus,
                }
              : ({ kind: f.kind, nth: f.nth } as FaultPoint),
        );
        const machine = v.interrupts === undefined ? {} : { interrupts: v.interrupts as { kind: "none" } };
        const r = runWithFaults({ ...cfg, machine }, faults);
        expect(r.faultsFired).toBe(faults.length);
        expect(r.violations).toEqual([]);
        expect(r.exception).toBeNull();
        expect({
          hazards: r.hazards,
          reports: r.modelReports,
          held: r.heldAtEnd,
          sweep: r.sweepHazards,
        }).toEqual({
          hazards: 0,
          reports: 0,
          held: 0,
          sweep: 0,
        });
        expect(r.policy).toEqual([]);
        expect(r.stranded).toBe(r.strandedReported);
        break;
      }
      case "scenario": {
        const r = runScenario(parseScenario(v.scenario));
        expect(r.expectations.filter((e) => !e.ok)).toEqual([]);
        expect(r.unexpected).toEqual([]);
        expect(r.exitCode).toBe(0);
        break;
      }
      case "contig": {
        const mem = new PhysMem(
          (v.memory as { base: string; size: string }[]).map((r) => ({
            base: num(r.base),
            size: num(r.size),
          })),
        );
        const alloc = new PageAllocator(mem);
        for (let i = 0; i < (v.before as number); i++) alloc.allocPage();
        const n = v.pages as number;
        const run = alloc.allocContigPages(n);
        expect(run).not.toBeNull();
        expect(run!.pfn % n).toBe(0);
        break;
      }
      case "iommu-mt-entry": {
        const d = decodeIommuMtEntry(num(v.lo), num(v.hi), {
          index: v.index as number,
          queuePages: v.queuePages as number,
        });
        expect(d.violation?.rule).toBe(v.rule);
        break;
      }
    }
  });
});
