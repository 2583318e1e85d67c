/**
 * The short, fixed-seed fuzz run of `npm test` (the long one is `npm run fuzz`), and the replay of every
 * regression vector in test/fuzz/regressions.json (target, seed, input as hex): each must now pass.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fromHex, toHex } from "../../fuzz/bytes.js";
import { fuzz, type RegressionVector } from "../../fuzz/driver.js";
import {
  FUZZ_LEAVES,
  FuzzBug,
  judge,
  seamcallProgram,
  seamcallStats,
  TARGETS,
  targetByName,
} from "../../fuzz/targets.js";

/** The fuzz vectors of the corpus (no `kind`); test/fuzz/regressions.test.ts replays every kind. */
const vectors = (
  JSON.parse(readFileSync(new URL("./regressions.json", import.meta.url), "utf8")) as (RegressionVector & {
    kind?: string;
  })[]
).filter((v) => v.kind === undefined);

/**
 * Inputs per target of the fixed-seed run. It was a 5 s time box (5/9 s per decoder target, 15/9 s for
 * the SEAMCALL programs); these counts are at least what the box reached under vitest on the code before
 * the counts (measured 2026-12-03 at load 6, this process at 0.9 of a core: status 250,880, formats
 * 798,720, entries 600,064, linked-list 62,464, u64-text 265,216, scenario documents 8,000, SEAMCALL
 * programs 800, and 1,400 in a second run), scaled to a whole core and rounded up. A count runs the
 * same inputs on a loaded machine as on an idle one.
 */
const FIXED_RUN: Readonly<Record<string, number>> = {
  status: 300_000,
  formats: 900_000,
  entries: 700_000,
  "linked-list": 70_000,
  "u64-text": 310_000,
  "scenario-doc": 12_000,
  seamcall: 1_400,
};

describe("fuzzing, fixed seed", () => {
  it("every target, a fixed count each: no untyped error, no conservation failure, no hang", () => {
    const before = seamcallStats.calls;
    const r = fuzz({ seconds: 5, seed: 424242, executions: FIXED_RUN });
    expect(r.vectors).toEqual([]);
    expect(r.figures.map((f) => f.target).sort()).toEqual(TARGETS.map((t) => t.name).sort());
    for (const f of r.figures) expect(f.executions, f.target).toBeGreaterThanOrEqual(FIXED_RUN[f.target]!);
    expect(seamcallStats.calls - before).toBeGreaterThan(1000);
  });

  it("the judge tells allowed outcomes from bugs", () => {
    const formats = targetByName("formats")!;
    expect(judge(formats, new Uint8Array(0))).toEqual({ ok: true });
    const thrower = {
      name: "t",
      typedErrorsAllowed: true,
      run: () => {
        throw new TypeError("boom");
      },
    };
    expect(judge(thrower, new Uint8Array(0))).toMatchObject({
      ok: false,
      problem: "untyped exception: TypeError: boom",
    });
    const bug = {
      name: "t",
      typedErrorsAllowed: true,
      run: () => {
        throw new FuzzBug("rule");
      },
    };
    expect(judge(bug, new Uint8Array(0))).toEqual({ ok: false, problem: "rule" });
  });

  it("hex round-trips and rejects non-hex", () => {
    const b = Uint8Array.from([0, 1, 0xab, 0xff]);
    expect(fromHex(toHex(b))).toEqual(b);
    expect(fromHex("abc")).toBeNull();
    expect(fromHex("zz")).toBeNull();
  });

  it("a hand-built SEAMCALL program reaches a connected SPDM session and stays conserved", () => {
    // cfg 0 (no interrupts), SPDM.CREATE of device 0 with 8 consecutive pool pages, CONNECT (RCX the id,
    // RDX the spdm_conf page, R8 the response page, R9 the request page, R10 4 pages), 12 forwards.
    const create = [10, 5, 0, 10, 7, ...Array.from({ length: 8 }, () => [0, 0, 0]).flat(), 0, 0, 0, 0];
    const connect = [
      16,
      14,
      0,
      8,
      1,
      8,
      0,
      7,
      10,
      3,
      ...Array.from({ length: 4 }, () => [10, 8, 0]).flat(),
      0,
    ];
    expect(FUZZ_LEAVES.indexOf("TDH.SPDM.CREATE")).toBe(10);
    expect(FUZZ_LEAVES.indexOf("TDH.SPDM.CONNECT")).toBe(16);
    const m = seamcallProgram(
      Uint8Array.from([0, 0, ...create, ...connect, ...Array.from({ length: 12 }, () => 231)]),
    );
    const spdm = [...m.module.objects.values()].filter((o) => o.kind === "spdm");
    expect(spdm).toHaveLength(1);
    expect(spdm[0]!.state).toBe("connected");
  });
});

describe("regression vectors", () => {
  it("the file's fuzz vectors are { target, seed, input } with known targets and hex inputs", () => {
    expect(vectors.length).toBeGreaterThan(0);
    for (const v of vectors) {
      expect(targetByName(v.target), v.target).toBeDefined();
      expect(fromHex(v.input), v.input).not.toBeNull();
      expect(Number.isInteger(v.seed)).toBe(true);
    }
  });

  it.each(vectors.map((v, i) => [i, v] as const))("vector %i replays clean", (_i, v) => {
    expect(judge(targetByName(v.target)!, fromHex(v.input)!)).toEqual({ ok: true });
  });
});
