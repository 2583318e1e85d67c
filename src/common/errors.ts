/**
 * Typed errors thrown when the library is misused.
 *
 * Two error channels exist in this project (STYLE.md point 4): the emulated TDX Module *returns* status
 * codes and never throws for bad host input; everything in this file is for the other channel, a caller
 * of the library passing a value it must not. Messages have fixed formats that name the value and the
 * allowed range, so a CLI can print them as one line.
 */

/** Machine-readable reason of a {@link TdxpaError}. */
export type TdxpaErrorCode =
  | "out-of-range" // a number outside its allowed range
  | "bad-type" // a value of the wrong type
  | "bad-format" // a string that does not parse
  | "bad-state" // an operation not allowed in the object's current state
  | "no-memory"; // a bookkeeping request that cannot be satisfied

/** The one error class the library throws on misuse. `code` says why, `message` names the value. */
export class TdxpaError extends Error {
  override readonly name = "TdxpaError";
  /** Structural marker so {@link isTdxpaError} works across realms and duplicated bundles. */
  readonly isTdxpaError = true as const;
  constructor(
    readonly code: TdxpaErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Structural guard: true for any {@link TdxpaError}, even one from another copy of the library. */
export function isTdxpaError(e: unknown): e is TdxpaError {
  return typeof e === "object" && e !== null && (e as { isTdxpaError?: unknown }).isTdxpaError === true;
}

/**
 * `s` with every control character escaped: C0 and C1 controls and DEL as `\xNN`, line and paragraph
 * separators and bidirectional overrides as `\uNNNN`. For echoing text from a file or argument, so it
 * can neither start a new line nor drive a terminal (`\x1b[2J`).
 * @example escapeControls("a\x1b[31mb\n") // "a\\x1b[31mb\\x0a"
 */
export function escapeControls(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  return s.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u${n.toString(16).padStart(4, "0")}`;
  });
}

/** Renders any value for an error message without throwing (bigint, symbol, cyclic objects). */
export function describeValue(v: unknown): string {
  switch (typeof v) {
    case "bigint":
      return `${v}n`;
    case "string":
      return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
    case "number":
      return Object.is(v, -0) ? "-0" : String(v);
    case "undefined":
      return "undefined";
    case "symbol":
      return v.toString();
    case "function":
      return "a function";
    case "object":
      if (v === null) return "null";
      if (Array.isArray(v)) return `an array of ${v.length}`;
      return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
    default:
      return String(v);
  }
}

/** `NAME: VALUE is out of range; allowed RANGE`. */
export function rangeError(name: string, value: unknown, allowed: string): TdxpaError {
  return new TdxpaError(
    "out-of-range",
    `${name}: ${describeValue(value)} is out of range; allowed ${allowed}`,
  );
}

/** {@link rangeError} with the value already rendered (e.g. an address in hex): not quoted. */
export function rangeErrorShown(name: string, shown: string, allowed: string): TdxpaError {
  return new TdxpaError("out-of-range", `${name}: ${shown} is out of range; allowed ${allowed}`);
}

/** `NAME: expected WHAT, got VALUE`. */
export function typeError(name: string, value: unknown, expected: string): TdxpaError {
  return new TdxpaError("bad-type", `${name}: expected ${expected}, got ${describeValue(value)}`);
}

/** `NAME: STATE-REASON`. */
export function stateError(name: string, reason: string): TdxpaError {
  return new TdxpaError("bad-state", `${name}: ${reason}`);
}

/**
 * Checks that `v` is an integer number in [min, max] and returns it.
 * Throws `typeError` for non-numbers and `rangeError` for NaN, fractions and values outside the range.
 */
export function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number") throw typeError(name, v, `an integer in ${min}..${max}`);
  if (!Number.isInteger(v) || v < min || v > max) throw rangeError(name, v, `${min}..${max}`);
  return v;
}
