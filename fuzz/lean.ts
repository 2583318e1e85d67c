/**
 * The lean fuzz driver for the decoder targets: raw bytes from the project's seeded generator
 * (`src/common/rng.ts`), written into one reused buffer and handed to the target directly — no
 * fast-check, no object per input beyond what the target itself makes. fast-check was 56% of the time
 * on these targets (issue 15); the structure-aware path (`driver.ts` with `arbitraries.ts`) stays for
 * the targets whose inputs need structure (the SEAMCALL programs, scenario documents).
 *
 * Inputs are biased, not uniform: a quarter of them have sparse bits (two draws ANDed, then ANDed
 * again), and a few bytes are forced to 0 or 0xff, so reserved fields are often clear and decoders
 * get past their first rule. A failing input is copied, shrunk greedily (drop the tail, zero bytes)
 * while it still fails, and returned as a regression vector.
 */
import { Rng } from "../src/common/rng.js";
import { toHex } from "./bytes.js";
import { type FuzzTarget, judge } from "./targets.js";

/** Input lengths the lean driver draws for a target (bytes, inclusive). */
export interface LeanShape {
  readonly minLen: number;
  readonly maxLen: number;
}

/** The decoder targets the lean driver runs, and the input lengths their readers use. */
export const LEAN_SHAPES: Readonly<Record<string, LeanShape>> = {
  status: { minLen: 8, maxLen: 8 },
  formats: { minLen: 10, maxLen: 10 },
  // format, first, last, queue size (6 bytes), then 1..8 entries that repeat to fill the page.
  entries: { minLen: 6, maxLen: 6 + 64 },
  // Page limit, page count, then page by page a shape, spelled entries and a link (see the target);
  // bytes past the end read as 0, an empty page: most walks end in page 0, full pages are rare.
  "linked-list": { minLen: 2, maxLen: 64 },
  "u64-text": { minLen: 0, maxLen: 48 },
};

/** A failing input found by the lean driver. */
export interface LeanFinding {
  readonly input: Uint8Array;
  readonly problem: string;
}

/** Whether a Uint32Array stores its words little-endian here (then {@link fill} writes whole words). */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * Fills `buf[0..n)` with biased random bytes from `r` (`words` is a Uint32Array over `buf`'s buffer):
 * each draw is stored as one word, the bytes in little-endian order on any host.
 */
function fill(r: Rng, buf: Uint8Array, words: Uint32Array, n: number): void {
  const mode = r.next() & 7;
  const sparse = mode < 2; // reserved fields mostly clear
  if (LITTLE_ENDIAN) {
    for (let i = 0, end = (n + 3) >>> 2; i < end; i++)
      words[i] = sparse ? r.next() & r.next() & r.next() : r.next();
  } else {
    for (let i = 0; i < n; i += 4) {
      const w = sparse ? r.next() & r.next() & r.next() : r.next();
      buf[i] = w;
      buf[i + 1] = w >>> 8;
      buf[i + 2] = w >>> 16;
      buf[i + 3] = w >>> 24;
    }
  }
  if (mode === 7 && n > 0) {
    // A few bytes at the extremes (all-ones words, NULL links, zero fields).
    const k = r.next();
    buf[k % n] = 0xff;
    buf[(k >>> 8) % n] = 0;
    buf[(k >>> 16) % n] = 0xff;
  }
}

/** Shrinks a failing input: shortest prefix that still fails, then each byte zeroed if it still fails. */
export function shrink(t: FuzzTarget, input: Uint8Array): LeanFinding {
  let best = input.slice();
  let v = judge(t, best);
  if (v.ok) return { input: best, problem: "(did not fail again)" };
  let problem = v.problem;
  for (let n = 0; n < best.length; n++) {
    const w = judge(t, best.subarray(0, n));
    if (!w.ok) {
      best = best.slice(0, n);
      problem = w.problem;
      break;
    }
  }
  for (let i = 0; i < best.length; i++) {
    if (best[i] === 0) continue;
    const old = best[i]!;
    best[i] = 0;
    v = judge(t, best);
    if (v.ok) best[i] = old;
    else problem = v.problem;
  }
  return { input: best, problem };
}

/**
 * Runs `t` on seeded raw inputs for `ms` milliseconds (checking the clock every 1024 inputs), or, with
 * `count`, until `count` inputs have run (rounded up to a multiple of 1024; `ms` still bounds it): a
 * fixed count runs the same inputs whatever the machine's load. Returns the executions and up to 5
 * distinct shrunk findings. Stack traces are off while it runs (a typed error is an allowed outcome of
 * a decoder, and capturing its stack was most of the cost).
 */
export function leanFuzz(
  t: FuzzTarget,
  shape: LeanShape,
  ms: number,
  seed: number,
  count = Number.POSITIVE_INFINITY,
): { executions: number; elapsed: number; findings: LeanFinding[] } {
  const r = Rng.mulberry32(seed);
  const buf = new Uint8Array((shape.maxLen + 7) & ~3);
  const words = new Uint32Array(buf.buffer);
  const views = Array.from({ length: shape.maxLen + 1 }, (_, n) => buf.subarray(0, n));
  const span = shape.maxLen - shape.minLen + 1;
  const findings: LeanFinding[] = [];
  const limit = Error.stackTraceLimit;
  // Not a number, rather than 0: V8 then skips stack capture altogether (a thrown typed error cost
  // 0.99 µs with 0 and 0.74 µs so, against 0.36 µs for throwing a plain object, in a micro-run).
  (Error as { stackTraceLimit: unknown }).stackTraceLimit = undefined;
  const t0 = performance.now();
  let executions = 0;
  try {
    while (executions < count && performance.now() - t0 < ms && findings.length < 5) {
      for (let i = 0; i < 1024; i++) {
        const n = shape.minLen + (span === 1 ? 0 : r.below(span));
        fill(r, buf, words, n);
        const input = views[n]!;
        const v = judge(t, input);
        if (!v.ok) {
          const f = shrink(t, input);
          if (!findings.some((x) => x.problem === f.problem)) findings.push(f);
        }
      }
      executions += 1024;
    }
  } finally {
    Error.stackTraceLimit = limit;
  }
  return { executions, elapsed: performance.now() - t0, findings };
}

/** A finding as hex, for the regression corpus. */
export const findingHex = (f: LeanFinding): string => toHex(f.input);
