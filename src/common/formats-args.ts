/**
 * Argument checks shared by the page-list encoders (src/common/formats-*.ts): the slow paths that
 * throw a typed error naming the value and the allowed range (docs/spec/01-formats.md 1.1–1.2).
 * Internal to the codecs: src/common/formats.ts re-exports only {@link MAX_ENTRIES}.
 */
import { rangeError, rangeErrorShown } from "./errors.js";
import { isPageHpa } from "./u64.js";

/** Most entries one root page holds, and so most pages one operand names (01-formats.md 1.1). */
export const MAX_ENTRIES = 512;

/** Returns `hpa` when it is a 4 KiB aligned address in 0..2^52−4096, else throws a typed range error. */
export function checkHpa(name: string, hpa: unknown): number {
  if (!isPageHpa(hpa)) {
    const allowed = "a 4 KiB aligned address in 0..2^52-4096";
    if (typeof hpa === "number" && Number.isSafeInteger(hpa) && hpa >= 0)
      throw rangeErrorShown(name, `0x${hpa.toString(16)}`, allowed);
    throw rangeError(name, hpa, allowed);
  }
  return hpa;
}

/** Returns `n` when it is an integer in min..512, else throws a typed range error. */
export function checkCount(name: string, n: unknown, min = 1): number {
  if (typeof n !== "number" || (n | 0) !== n || n < min || n > MAX_ENTRIES) {
    throw rangeError(name, n, `${min}..${MAX_ENTRIES}`);
  }
  return n;
}
