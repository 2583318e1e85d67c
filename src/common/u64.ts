/**
 * 64-bit values as two 32-bit halves, and every shift-and-mask helper the project uses.
 *
 * STYLE.md point 2 and 3: inside the model a u64 is a pair `{lo, hi}` of unsigned 32-bit numbers (cheap
 * and stable in V8); `bigint` appears only at the public edge ({@link u64FromBigint}, {@link u64ToBigint})
 * and files carry `"0x…"` strings ({@link u64ToHex}, {@link parseU64}). A field of up to 53 bits (a PFN is
 * 40, an HPA is 52) is a plain number. No other file does shifts or masks on register values; field
 * layouts are data (see `fields.ts`) handed to the helpers here.
 */
import { rangeError, TdxpaError, typeError } from "./errors.js";

/** A u64 as two unsigned 32-bit halves. Both are integers in 0..0xFFFFFFFF. */
export interface U64 {
  readonly lo: number;
  readonly hi: number;
}

/** 2^32, the weight of the high half. */
export const TWO32 = 0x1_0000_0000;
/** 2^20: the part of bits 51:32 that sits in the high half. */
const TWO20 = 0x10_0000;
/** Largest u64 as a bigint. */
export const U64_MAX = 0xffff_ffff_ffff_ffffn;
/** The all-ones u64 (TDX's "NULL" for an HPA). */
export const U64_ONES: U64 = Object.freeze({ lo: 0xffff_ffff, hi: 0xffff_ffff });
/** The zero u64. */
export const U64_ZERO: U64 = Object.freeze({ lo: 0, hi: 0 });

/** Makes a u64 from halves. Valid for lo, hi integers in 0..2^32−1 (not checked: internal hot path). */
export function u64(lo: number, hi: number): U64 {
  return { lo: lo >>> 0, hi: hi >>> 0 };
}

/** Public edge: a bigint in 0..2^64−1 to halves; anything else throws a typed error naming the value. */
export function u64FromBigint(v: bigint, name = "value"): U64 {
  if (typeof v !== "bigint") throw typeError(name, v, "a bigint in 0..2^64-1");
  if (v < 0n || v > U64_MAX) throw rangeError(name, v, "0..2^64-1");
  return { lo: Number(v & 0xffff_ffffn), hi: Number(v >> 32n) };
}

/**
 * Checks that (lo, hi) are two unsigned 32-bit integers (the public decoders' arguments); throws a
 * typed error naming the bad half otherwise.
 */
export function checkHalves(name: string, lo: unknown, hi: unknown): void {
  if (typeof lo !== "number" || lo >>> 0 !== lo) throw typeError(`${name}.lo`, lo, "an integer in 0..2^32-1");
  if (typeof hi !== "number" || hi >>> 0 !== hi) throw typeError(`${name}.hi`, hi, "an integer in 0..2^32-1");
}

/** Public edge: halves to a bigint. */
export function u64ToBigint(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** The character code of each lowercase hex digit 0..15. */
const HEX_CODES: readonly number[] = Array.from({ length: 16 }, (_, d) => d.toString(16).charCodeAt(0));

/**
 * `"0x"` + 16 lowercase hex digits, the project's file and output form of a u64. One
 * `String.fromCharCode` of 18 codes makes a flat string (joining 8 two-digit strings from a table made
 * a rope that its reader had to flatten: twice the cost in a micro-run, toString(16).padStart 5x).
 */
export function u64ToHex(lo: number, hi: number): string {
  const h = HEX_CODES;
  return String.fromCharCode(
    48,
    120,
    h[hi >>> 28]!,
    h[(hi >>> 24) & 15]!,
    h[(hi >>> 20) & 15]!,
    h[(hi >>> 16) & 15]!,
    h[(hi >>> 12) & 15]!,
    h[(hi >>> 8) & 15]!,
    h[(hi >>> 4) & 15]!,
    h[hi & 15]!,
    h[lo >>> 28]!,
    h[(lo >>> 24) & 15]!,
    h[(lo >>> 20) & 15]!,
    h[(lo >>> 16) & 15]!,
    h[(lo >>> 12) & 15]!,
    h[(lo >>> 8) & 15]!,
    h[(lo >>> 4) & 15]!,
    h[lo & 15]!,
  );
}

/** Value of hex digit character code `c` (0-9, a-f, A-F), or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20; // ASCII lower case
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/** The typed error for text that is not a u64 in either form. */
function notANumber(name: string, text: string): TdxpaError {
  return new TdxpaError(
    "bad-format",
    `${name}: ${JSON.stringify(text)} is not a number; allowed 0x hex or decimal, 0..2^64-1`,
  );
}

/** The typed error for a well-formed number above 2^64−1. */
const tooBig = (name: string, text: string): TdxpaError =>
  rangeError(name, text, "0..2^64-1 (0xffffffffffffffff)");

/**
 * Parses a u64 from text: `0x` hex (underscores allowed as separators) or decimal, 0..2^64−1.
 * Throws a typed `bad-format` or `out-of-range` error that names the text and the range.
 * Never goes through a float or a bigint: the halves are built digit by digit, so 18446744073709551615
 * stays exact. The forms accepted: after trimming white space, `0x`/`0X` and 1..32 characters of hex
 * digits and `_` with at least one digit, or 1..20 decimal digits.
 */
export function parseU64(text: string, name = "value"): U64 {
  if (typeof text !== "string") throw typeError(name, text, "a string");
  // Text that starts and ends with printable ASCII other than space has nothing to trim.
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(text.length - 1);
  const t = first > 32 && first < 127 && last > 32 && last < 127 ? text : text.trim();
  const n = t.length;
  if (n >= 3 && t.charCodeAt(0) === 48 && (t.charCodeAt(1) | 0x20) === 120) {
    if (n > 34) throw notANumber(name, text);
    // Hex: digits accumulate into hi:lo, 4 bits at a time; a digit shifted out of hi is out of range.
    let lo = 0;
    let hi = 0;
    let digits = 0;
    let big = false;
    for (let i = 2; i < n; i++) {
      const c = t.charCodeAt(i);
      if (c === 95) continue; // `_`
      const d = hexDigit(c);
      if (d < 0) throw notANumber(name, text);
      digits++;
      if (hi >>> 28 !== 0) big = true;
      hi = ((hi << 4) | (lo >>> 28)) >>> 0;
      lo = ((lo << 4) | d) >>> 0;
    }
    if (digits === 0)
      throw new TdxpaError(
        "bad-format",
        `${name}: ${JSON.stringify(text)} is not a number; allowed 0x hex or decimal`,
      );
    if (big) throw tooBig(name, text);
    return { lo, hi };
  }
  if (n === 0 || n > 20) throw notANumber(name, text);
  // Decimal: hi:lo = hi:lo × 10 + d; each product stays below 2^36, so it is exact, `>>> 0` takes it
  // modulo 2^32 and × 2^-32 (a power of two: exact) the carry, with no float division or `%`.
  let lo = 0;
  let hi = 0;
  let big = false;
  for (let i = 0; i < n; i++) {
    const d = t.charCodeAt(i) - 48;
    if (d < 0 || d > 9) throw notANumber(name, text);
    const l = lo * 10 + d;
    lo = l >>> 0;
    const h = hi * 10 + (l - lo) * 2.3283064365386963e-10;
    if (h >= 0x1_0000_0000) big = true;
    hi = h >>> 0;
  }
  if (big) throw tooBig(name, text);
  return { lo, hi };
}

/** Accepts the public input forms of a u64 (bigint, safe integer number, or string) and returns halves. */
export function toU64(v: unknown, name = "value"): U64 {
  if (typeof v === "bigint") return u64FromBigint(v, name);
  if (typeof v === "string") return parseU64(v, name);
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v) || v < 0)
      throw rangeError(name, v, "0..2^53-1 as a number (use a bigint or string above)");
    return u64FromNumber(v);
  }
  throw typeError(name, v, "a bigint, a safe integer or a 0x string");
}

/** A non-negative safe integer (≤ 2^53−1) to halves. Valid for v in 0..2^53−1 (not checked). */
export function u64FromNumber(v: number): U64 {
  const hi = Math.floor(v / TWO32);
  return { lo: (v - hi * TWO32) >>> 0, hi: hi >>> 0 };
}

/** Halves to a number when the value is ≤ 2^53−1, else `null`. */
export function u64ToNumber(lo: number, hi: number): number | null {
  return hi >>> 0 < 0x20_0000 ? (hi >>> 0) * TWO32 + (lo >>> 0) : null;
}

/** True when both halves are equal. */
export function u64Equal(a: U64, b: U64): boolean {
  return a.lo === b.lo && a.hi === b.hi;
}

// ---------------------------------------------------------------------------------------------------
// Bit fields. A field is (lsb, width) with 0 ≤ lsb, 1 ≤ width, lsb + width ≤ 64.

/** 2^i for i in 0..32. */
const POW2: readonly number[] = Array.from({ length: 33 }, (_, i) => 2 ** i);

/** Mask of the low `width` bits as an unsigned 32-bit number. Valid for width in 0..32. */
function mask32(width: number): number {
  return width >= 32 ? 0xffff_ffff : ((1 << width) - 1) >>> 0;
}

/**
 * Reads bits lsb..lsb+width−1 of (lo, hi) as a number. Valid for width in 1..53 and lsb + width ≤ 64;
 * the result is exact because it is below 2^53.
 */
export function getBits(lo: number, hi: number, lsb: number, width: number): number {
  const end = lsb + width; // exclusive
  if (end <= 32) return ((lo >>> lsb) & mask32(width)) >>> 0;
  if (lsb >= 32) return ((hi >>> (lsb - 32)) & mask32(width)) >>> 0;
  // The field straddles bit 32: low part from lo (32 − lsb bits), high part from hi.
  const lowWidth = 32 - lsb;
  const low = lo >>> lsb;
  const high = (hi & mask32(end - 32)) >>> 0;
  return high * POW2[lowWidth]! + low;
}

/**
 * Returns (lo, hi) with bits lsb..lsb+width−1 replaced by `value`. Valid for width in 1..53,
 * lsb + width ≤ 64 and value an integer in 0..2^width−1 (callers range-check first).
 */
export function setBits(lo: number, hi: number, lsb: number, width: number, value: number): U64 {
  const end = lsb + width;
  if (end <= 32) {
    const m = (mask32(width) << lsb) >>> 0;
    return { lo: ((lo & ~m) | ((value << lsb) & m)) >>> 0, hi: hi >>> 0 };
  }
  if (lsb >= 32) {
    const s = lsb - 32;
    const m = (mask32(width) << s) >>> 0;
    return { lo: lo >>> 0, hi: ((hi & ~m) | ((value << s) & m)) >>> 0 };
  }
  const lowWidth = 32 - lsb;
  const lowPart = value >>> 0; // the bits above lowWidth are masked off below
  const highPart = Math.floor(value / POW2[lowWidth]!);
  const mLo = (mask32(lowWidth) << lsb) >>> 0;
  const mHi = mask32(end - 32);
  return {
    lo: ((lo & ~mLo) | ((lowPart << lsb) & mLo)) >>> 0,
    hi: ((hi & ~mHi) | (highPart & mHi)) >>> 0,
  };
}

/** Inclusive bit range text, as the spec writes it: `"51:12"`, or `"5"` for one bit. */
export function bitRangeText(lsb: number, width: number): string {
  return width === 1 ? `${lsb}` : `${lsb + width - 1}:${lsb}`;
}

// ---------------------------------------------------------------------------------------------------
// Addresses. An HPA is a number below 2^52; a PFN is HPA / 4096, below 2^40.

/** Page size, 4 KiB. */
export const PAGE_SIZE = 4096;
/** log2 of {@link PAGE_SIZE}. */
export const PAGE_SHIFT = 12;
/** Addresses are below 2^52 (01-formats.md 1.4 rule 3). */
export const HPA_LIMIT = 2 ** 52;
/** PFNs are below 2^40. */
export const PFN_LIMIT = 2 ** 40;

/** Bits 51:0 of (lo, hi) as a number (the HPA a field of 51:12 plus 11:0 describes). */
export function low52(lo: number, hi: number): number {
  return ((hi >>> 0) & (TWO20 - 1)) * TWO32 + (lo >>> 0);
}

/** The low half of a page-aligned HPA number. Valid for hpa an integer in 0..2^53−1. */
export function hpaLo(hpa: number): number {
  return hpa >>> 0;
}

/** The high half of an HPA number. Valid for hpa an integer in 0..2^53−1. */
export function hpaHi(hpa: number): number {
  // Multiplying by 2^-32 is exact (a power of two) and cheaper than a division.
  return (hpa - (hpa >>> 0)) * INV_TWO32;
}

/** 2^-32. */
const INV_TWO32 = 1 / TWO32;

/**
 * True when `hpa` is a number, an integer, 4 KiB aligned and below 2^52 (01-formats.md 1.4 rule 3's
 * address part). No float `%`: alignment is a mask of the low half. Valid for any value.
 */
export function isPageHpa(hpa: unknown): hpa is number {
  return (
    typeof hpa === "number" &&
    hpa >= 0 &&
    hpa < HPA_LIMIT &&
    Number.isInteger(hpa) &&
    ((hpa >>> 0) & (PAGE_SIZE - 1)) === 0
  );
}

/**
 * Bits lsb..lsb+width−1 of one 32-bit half, as a number. Valid for lsb in 0..31 and width in
 * 1..32−lsb.
 */
export function halfBits(half: number, lsb: number, width: number): number {
  return ((half >>> lsb) & mask32(width)) >>> 0;
}

/** Bits 51:12 of (lo, hi) as an address (bits 11:0 zero): the page an operand or entry names. */
export function pageAddress(lo: number, hi: number): number {
  // Literals, not TWO20 / TWO32 / PAGE_SIZE: a module constant costs a load and a hole check per call.
  return (hi & 0xf_ffff) * 0x1_0000_0000 + ((lo & 0xffff_f000) >>> 0);
}

/**
 * True when `n` is a power of two (n ≥ 1). Valid for n a non-negative safe integer (or 2^53). No
 * Math.log2 or `**`: below 2^32 a bit test, above it the same test on the high half.
 */
export function isPowerOfTwo(n: number): boolean {
  if (!(n >= 1 && n <= 2 ** 53 && Number.isInteger(n))) return false;
  if (n <= 0xffff_ffff) return (n & (n - 1)) === 0;
  if (n >>> 0 !== 0) return false;
  const h = n / TWO32;
  return (h & (h - 1)) === 0;
}

/**
 * The HPA of page frame `pfn`: pfn × {@link PAGE_SIZE}. Exact for pfn an integer below
 * {@link PFN_LIMIT} (the product stays below 2^52).
 * @example pfnToHpa(0x1234) // 0x1234000
 */
export function pfnToHpa(pfn: number): number {
  return pfn * PAGE_SIZE;
}

/**
 * The page frame number holding byte address `hpa`: floor(hpa / {@link PAGE_SIZE}). Exact for hpa
 * an integer in 0..2^53−1 (dividing by a power of two is exact; the floor drops the page offset).
 * @example hpaToPfn(0x1234fff) // 0x1234
 */
export function hpaToPfn(hpa: number): number {
  return Math.floor(hpa / PAGE_SIZE);
}

/** Bytes in `pages` 4 KiB pages (pages × {@link PAGE_SIZE}). */
export function pagesToBytes(pages: number): number {
  return pages * PAGE_SIZE;
}

/**
 * `hpa` (an integer in 0..2^53−1) as a register value: the two halves a SEAMCALL operand or a
 * root-page entry carries. Same as {@link u64FromNumber}, named for addresses.
 */
export function hpaToU64(hpa: number): U64 {
  return { lo: hpaLo(hpa), hi: hpaHi(hpa) };
}
