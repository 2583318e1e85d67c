/**
 * The fuzz driver: runs each decoder target of fuzz/targets.ts with the lean driver (`lean.ts`: seeded
 * raw bytes, no fast-check) and the structure-aware targets (or every target, with `driver:
 * "fast-check"`) on inputs from `arbitraries.ts` with fast-check, in batches, until its share of the time box is spent; shrinks any
 * failing input and returns it as a regression vector (target, seed, input as hex). No file access:
 * `fuzz/index.ts` prints and saves, `test/fuzz/fuzz.test.ts` asserts.
 */
import fc from "fast-check";
import { ARBITRARIES } from "./arbitraries.js";
import { toHex } from "./bytes.js";
import { LEAN_SHAPES, leanFuzz } from "./lean.js";
import { type FuzzTarget, judge, TARGETS } from "./targets.js";

/** A saved counterexample. */
export interface RegressionVector {
  readonly target: string;
  readonly seed: number;
  readonly input: string;
  readonly problem: string;
}

/** Figures of one target. */
export interface TargetFigures {
  readonly target: string;
  /** Which driver ran it. */
  readonly driver: "lean" | "fast-check";
  readonly executions: number;
  readonly ms: number;
  readonly perSecond: number;
  readonly failures: number;
}

/** Options of {@link fuzz}. */
export interface FuzzOptions {
  readonly seconds: number;
  readonly seed: number;
  /** Target names (default: all). */
  readonly targets?: readonly string[];
  /** Share of the time box per target (default: equal shares, the SEAMCALL entry gets 3 shares). */
  readonly weights?: Readonly<Record<string, number>>;
  /** Inputs per fast-check batch (default 2000). */
  readonly batch?: number;
  readonly onBatch?: (target: string, executions: number) => void;
  /** `auto` (default): the lean driver for the targets of LEAN_SHAPES, fast-check for the rest. */
  readonly driver?: "auto" | "fast-check";
  /**
   * Fixed counts instead of the time box, by target: such a target runs until it has executed at least
   * this many inputs (whole batches: 1024 on the lean driver, `batch` on fast-check), whatever the time.
   * The same inputs on a loaded machine as on an idle one (`test/fuzz/fuzz.test.ts`).
   */
  readonly executions?: Readonly<Record<string, number>>;
}

/** What a fuzz run found. */
export interface FuzzResult {
  readonly seed: number;
  readonly seconds: number;
  readonly figures: readonly TargetFigures[];
  readonly executions: number;
  readonly vectors: readonly RegressionVector[];
}

const DEFAULT_WEIGHTS: Record<string, number> = { seamcall: 3 };

function runTarget(
  t: FuzzTarget,
  ms: number,
  seed: number,
  batch: number,
  onBatch?: FuzzOptions["onBatch"],
  count?: number,
) {
  const arb = ARBITRARIES[t.name];
  if (arb === undefined) throw new Error(`no arbitrary for target ${t.name}`);
  const t0 = performance.now();
  let executions = 0;
  const vectors: RegressionVector[] = [];
  let lastProblem = "";
  for (let b = 0; count === undefined ? performance.now() - t0 < ms : executions < count; b++) {
    const s = (seed + b * 7919) | 0;
    const details = fc.check(
      fc.property(arb, (input) => {
        const v = judge(t, input);
        if (!v.ok) lastProblem = v.problem;
        return v.ok;
      }),
      { seed: s, numRuns: batch, endOnFailure: false },
    );
    executions += details.numRuns;
    onBatch?.(t.name, executions);
    if (details.failed && details.counterexample !== null) {
      const input = details.counterexample[0];
      const v = judge(t, input);
      const problem = v.ok ? lastProblem : v.problem;
      if (vectors.some((x) => x.problem === problem)) continue;
      vectors.push({ target: t.name, seed: s, input: toHex(input), problem });
      if (vectors.length >= 5) break;
    }
  }
  const elapsed = performance.now() - t0;
  return {
    figures: {
      target: t.name,
      driver: "fast-check" as const,
      executions,
      ms: Math.round(elapsed),
      perSecond: Math.round((executions / elapsed) * 1000),
      failures: vectors.length,
    },
    vectors,
  };
}

/** The lean driver on `t` for `ms`, with its figures and regression vectors. */
function runLean(t: FuzzTarget, ms: number, seed: number, onBatch?: FuzzOptions["onBatch"], count?: number) {
  const shape = LEAN_SHAPES[t.name]!;
  const r =
    count === undefined
      ? leanFuzz(t, shape, ms, seed)
      : leanFuzz(t, shape, Number.POSITIVE_INFINITY, seed, count);
  onBatch?.(t.name, r.executions);
  return {
    figures: {
      target: t.name,
      driver: "lean" as const,
      executions: r.executions,
      ms: Math.round(r.elapsed),
      perSecond: Math.round((r.executions / r.elapsed) * 1000),
      failures: r.findings.length,
    },
    vectors: r.findings.map((f) => ({ target: t.name, seed, input: toHex(f.input), problem: f.problem })),
  };
}

/** Runs the fuzz campaign. */
export function fuzz(o: FuzzOptions): FuzzResult {
  const targets = TARGETS.filter((t) => o.targets === undefined || o.targets.includes(t.name));
  const weights = { ...DEFAULT_WEIGHTS, ...o.weights };
  const total = targets.reduce((s, t) => s + (weights[t.name] ?? 1), 0);
  const figures: TargetFigures[] = [];
  const vectors: RegressionVector[] = [];
  for (const t of targets) {
    const share = ((weights[t.name] ?? 1) / total) * o.seconds * 1000;
    const batch = o.batch ?? (t.name === "seamcall" ? 200 : 2000);
    const lean = o.driver !== "fast-check" && LEAN_SHAPES[t.name] !== undefined;
    const count = o.executions?.[t.name];
    const r = lean
      ? runLean(t, share, o.seed, o.onBatch, count)
      : runTarget(t, share, o.seed, batch, o.onBatch, count);
    figures.push(r.figures);
    vectors.push(...r.vectors);
  }
  return {
    seed: o.seed,
    seconds: o.seconds,
    figures,
    executions: figures.reduce((s, f) => s + f.executions, 0),
    vectors,
  };
}
