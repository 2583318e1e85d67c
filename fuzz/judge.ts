/**
 * What a fuzz target is and how its outcome is judged: a target takes one byte string and throws
 * {@link FuzzBug} when it sees a broken rule; {@link judge} tells allowed outcomes (a value, or a typed
 * TdxpaError from a library decoder) from bugs (a FuzzBug, an untyped exception, a typed error from the
 * emulator). Core code: no Node APIs.
 */
import { isTdxpaError } from "../src/common/errors.js";

/** A rule a target found broken (not an exception the code under test threw by itself). */
export class FuzzBug extends Error {
  override readonly name = "FuzzBug";
}

/** A fuzz target. */
export interface FuzzTarget {
  readonly name: string;
  /** Whether a typed TdxpaError is an allowed outcome (library decoders) or a bug (the emulator). */
  readonly typedErrorsAllowed: boolean;
  run(input: Uint8Array): void;
}

/** The verdict on one input. */
export type FuzzVerdict = { readonly ok: true } | { readonly ok: false; readonly problem: string };

/** The verdict on a clean input (one frozen object: the lean driver judges millions per second). */
const CLEAN: FuzzVerdict = Object.freeze({ ok: true });

/** Runs `t` on `input` and classifies what happened. Never throws. */
export function judge(t: FuzzTarget, input: Uint8Array): FuzzVerdict {
  try {
    t.run(input);
    return CLEAN;
  } catch (e) {
    if (e instanceof FuzzBug) return { ok: false, problem: e.message };
    if (t.typedErrorsAllowed && isTdxpaError(e)) return CLEAN;
    const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return {
      ok: false,
      problem: `${isTdxpaError(e) ? "typed error from the emulator" : "untyped exception"}: ${what}`,
    };
  }
}

/** Throws {@link FuzzBug} with `message()` unless `cond`. */
export function check(cond: boolean, message: () => string): void {
  if (!cond) throw new FuzzBug(message());
}
