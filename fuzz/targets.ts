/**
 * Fuzz targets: each takes one byte string and runs a decoder of the library, or a program of raw
 * SEAMCALLs against a fresh emulated module, and throws {@link FuzzBug} when it sees a broken rule.
 * The driver (`fuzz/index.ts`, `test/fuzz/fuzz.test.ts`) classifies what a target throws:
 *
 * - library decoders (status, formats, entries, linked list, u64 text, scenario documents) may return a
 *   value or throw a typed TdxpaError; anything else thrown is a bug;
 * - the SEAMCALL entry may only return a status in RAX: any throw (typed or not) is a bug, and so is a
 *   conservation failure (src/observe/conservation.ts) after a call, or a call that takes more than
 *   {@link HANG_MS} (a hang, since synchronous code cannot be pre-empted).
 *
 * Inputs are bytes so that every counterexample is saved as hex and replayed exactly; the structure
 * lives in how `fuzz/arbitraries.ts` builds them (valid operands with one field perturbed, root pages
 * with valid entries and one bad one, …) and in how {@link seamcallProgram} reads them. The judge is
 * `judge.ts`, the SEAMCALL program `seamcall.ts`; both are re-exported here with the decoder targets.
 *
 * Core code: no Node APIs.
 */

import { isTdxpaError } from "../src/common/errors.js";
import { LIST_FORMATS, type ListFormat } from "../src/common/format-table.js";
import {
  checkEntries,
  decodeHpaArray,
  decodeHpaListInfo,
  decodeIommuMt,
  decodeIommuMtEntry,
  decodeListEntry,
  encodeHpaArray,
  encodeHpaListInfo,
  encodeIommuMt,
  encodeIommuMtEntry,
  encodeListEntry,
  readLinkedList,
} from "../src/common/formats.js";
import { decodeStatus, statusText } from "../src/common/status.js";
import { parseU64, TWO32, type U64, U64_ONES, u64Equal, u64ToHex } from "../src/common/u64.js";
import { parseScenario } from "../src/scenario/schema.js";
import { ByteReader } from "./bytes.js";
import { check, type FuzzTarget } from "./judge.js";
import { seamcallTarget } from "./seamcall.js";

export * from "./judge.js";
export * from "./seamcall.js";

const ONES = U64_ONES;
// Every value here comes from ByteReader or a decoder: halves are already u32, so u64Equal compares them.
const same = u64Equal;

// ---------------------------------------------------------------------------------------------------
// Decoders

/**
 * The halves of `s` when it is exactly the canonical form of a u64 (`0x` and 16 lowercase hex digits),
 * else -1 in `lo`: the status target's oracle for `raw`, stricter than parseU64 (which also takes
 * upper case, `_` and decimal) and without its bigint. Writes into {@link HEX_OUT} (no object per input).
 */
function canonicalHex(s: string): void {
  HEX_OUT.lo = -1;
  if (s.length !== 18 || s.charCodeAt(0) !== 48 || s.charCodeAt(1) !== 120) return;
  let hi = 0;
  let lo = 0;
  for (let i = 2; i < 18; i++) {
    const c = s.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return;
    if (i < 10) hi = hi * 16 + d;
    else lo = lo * 16 + d;
  }
  HEX_OUT.lo = lo;
  HEX_OUT.hi = hi;
}
const HEX_OUT = { lo: 0, hi: 0 };

/**
 * decodeStatus / statusText: any u64 decodes; the raw field round-trips. `decode` is the decoder under
 * test (a planted wrong one in test/fuzz/lean.test.ts).
 */
export function statusTargetFor(decode: typeof decodeStatus): FuzzTarget {
  return {
    name: "status",
    typedErrorsAllowed: true,
    run(input) {
      const r = new ByteReader(input);
      const v = r.u64();
      const d = decode(v.lo, v.hi);
      statusText(v);
      canonicalHex(d.raw);
      check(
        HEX_OUT.lo === v.lo && HEX_OUT.hi === v.hi,
        () => `decodeStatus raw ${d.raw} does not round-trip ${u64ToHex(v.lo, v.hi)}`,
      );
      check(d.info === v.lo >>> 0, () => `info ${d.info} is not bits 31:0`);
      check(
        d.operandId === (v.hi >>> 31 === 1 && v.hi >>> 0 !== 0x8000_ff00 ? v.lo >>> 0 : null),
        () => `operand id ${d.operandId} of ${d.raw}: bits 31:0 are an operand id only on a module error`,
      );
    },
  };
}

/** The status target on the library's decodeStatus. */
export const statusTarget: FuzzTarget = statusTargetFor(decodeStatus);

/** A shared-page check driven by the input (the module passes its own; here it varies). */
function rootCheck(mode: number): ((hpa: number) => string | null) | undefined {
  if (mode % 3 === 0) return undefined;
  if (mode % 3 === 1) return () => null;
  return (hpa) => (hpa % 0x2000 === 0 ? "is not shared (fuzz)" : null);
}

/**
 * The operand and entry decoders: never throw for any u64; a value they accept re-encodes to itself
 * (the encoders and decoders agree, 01-formats.md 1.1–1.2).
 */
export const formatsTarget: FuzzTarget = {
  name: "formats",
  typedErrorsAllowed: true,
  run(input) {
    const r = new ByteReader(input);
    const which = r.u8();
    const mode = r.u8();
    const v = r.u64();
    const cb = rootCheck(mode);
    switch (which % 6) {
      case 0: {
        const d = decodeHpaListInfo(v.lo, v.hi, cb);
        if (d.violation === null) {
          const e = encodeHpaListInfo({
            rootHpa: d.fields.rootHpa,
            count: d.fields.count,
            firstEntry: d.fields.firstEntry,
          });
          check(
            same(e, v),
            () => `HPA_LIST_INFO ${u64ToHex(v.lo, v.hi)} accepted but re-encodes to ${u64ToHex(e.lo, e.hi)}`,
          );
        }
        break;
      }
      case 1: {
        const d = decodeHpaArray(v.lo, v.hi, cb);
        if (d.violation === null) {
          const f = d.fields;
          const e = f.singleton
            ? encodeHpaArray({ count: 1, pageHpa: f.pageHpa! })
            : encodeHpaArray({ count: f.count, rootHpa: f.rootHpa! });
          check(
            same(e, v),
            () => `HPA_ARRAY_T ${u64ToHex(v.lo, v.hi)} accepted but re-encodes to ${u64ToHex(e.lo, e.hi)}`,
          );
        }
        break;
      }
      case 2: {
        const d = decodeIommuMt(v.lo, v.hi, cb);
        if (d.violation === null) {
          const e = encodeIommuMt(d.fields.rootHpa);
          check(
            same(e, v),
            () => `IOMMU_MT ${u64ToHex(v.lo, v.hi)} accepted but re-encodes to ${u64ToHex(e.lo, e.hi)}`,
          );
        }
        break;
      }
      case 3: {
        const d = decodeListEntry(v.lo, v.hi, mode);
        if (d.violation === null) {
          const e = encodeListEntry(d.fields.hpa);
          check(
            same(e, v),
            () => `list entry ${u64ToHex(v.lo, v.hi)} accepted but re-encodes to ${u64ToHex(e.lo, e.hi)}`,
          );
        }
        break;
      }
      default: {
        // queuePages as a module has it: 2^iqOrder with iqOrder 1..10 (validatePlatform).
        const position =
          which % 6 === 4 ? undefined : { index: mode % 4, queuePages: 2 << ((mode >>> 4) % 10) };
        const d = decodeIommuMtEntry(v.lo, v.hi, position);
        if (d.violation === null) {
          const e = encodeIommuMtEntry(d.fields.hpa, d.fields.numPages === 0 ? 1 : d.fields.numPages);
          check(
            same(e, v),
            () => `IOMMU_MT entry ${u64ToHex(v.lo, v.hi)} accepted but re-encodes to ${u64ToHex(e.lo, e.hi)}`,
          );
        }
      }
    }
  },
};

const FORMATS: readonly ListFormat[] = LIST_FORMATS;

/** The root page the entries target fills (reused: checkEntries only reads it). */
const ENTRY_PAGE = new Uint32Array(1024);

/** checkEntries over a root page built from the input: never throws for any page and any range. */
export const entriesTarget: FuzzTarget = {
  name: "entries",
  typedErrorsAllowed: true,
  run(input) {
    const r = new ByteReader(input);
    const format = FORMATS[r.u8() % 3]!;
    const first = r.u16() % 512;
    const last = r.u16() % 512;
    const queuePages = 2 << (r.u8() % 10);
    const words = ENTRY_PAGE;
    // The input's entries repeat to fill the page, so a short input still reaches every index: its
    // little-endian u32 words are copied once, then the page doubles the copy (no slice per input).
    const bytes = r.bytes;
    const n = (bytes.length - r.pos) >>> 2;
    if (bytes.length - r.pos >= 8) {
      for (let j = 0, at = r.pos; j < n && j < 1024; j++, at += 4)
        words[j] =
          (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
      for (let filled = Math.min(n, 1024); filled < 1024; filled *= 2)
        words.copyWithin(filled, 0, Math.min(filled, 1024 - filled));
    } else words.fill(0);
    const v = checkEntries(format, words, first, last, queuePages);
    check(
      v === null || v.entry === undefined || (v.entry >= first && v.entry <= last),
      () => `violation at entry ${v?.entry} outside ${first}..${last}`,
    );
  },
};

/**
 * The list pages of the linked-list target (reused): up to 8 pages at {@link LIST_BASE} + p × 4 KiB, of
 * which only the entries the input spells out are stored. Page `p` is, entry by entry:
 * - entries `LIST_START[p]` .. `LIST_END[p]` − 1, and entry 511 (the link): as the input spells them;
 * - any other entry below `LIST_USED[p]`: a filler data page, a clean address above 4 GiB that differs
 *   for every page and entry (so a walk that skips, repeats or reorders entries is caught);
 * - entries `LIST_USED[p]` .. 510: NULL.
 *
 * The input is read as the pages are read (by the decoder or the oracle, in any order): page headers
 * in order, and a page's spelled entries up to the one asked for, the rest of them and the link before
 * the next page's header. The bytes go where an eager reader would put them; most walks end in page 0,
 * and the input's later pages then cost nothing.
 */
const LIST_PAGES = new Uint32Array(8 * 1024);
const LIST_USED = new Int32Array(8);
const LIST_START = new Int32Array(8);
const LIST_END = new Int32Array(8);
/** 1 for a page whose entries are spelled from entry 0 while the input lasts (not full or near-full). */
const LIST_SHORT = new Uint8Array(8);
const LIST_BASE = 0x1000_0000;
/** Pages of the current input, and entries the decoder read (state of the one reader below). */
let listPageCount = 0;
let listReads = 0;
/** The input being read, pages whose header has been read, and the page still being read (or -1). */
let listInput = new ByteReader(new Uint8Array(0));
let listHeaders = 0;
let listOpen = -1;

/**
 * Reads page `p`'s shape byte `u`: by `u & 63`, 63 a full page (511 data entries, then the link is
 * read), 62 a NULL data entry at 510 − `u >>> 6` (507..510), else `u >>> 2` data entries (0..63). A
 * full or near-full page has one more byte `s`: the input spells `s & 3` entries from entry
 * 8 × (`s >>> 2`), read here, and the rest are fillers; any other page spells its entries from entry 0
 * while the input lasts ({@link listSpellTo}).
 */
function listHeader(p: number): void {
  const r = listInput;
  const u = r.u8();
  const shape = u & 63;
  if (shape >= 62) {
    const s = r.u8();
    const start = (s >>> 2) * 8;
    const end = Math.min(start + (s & 3), 511);
    for (let e = start; e < end; e++) readSpelledEntry(r, p * 1024 + 2 * e);
    LIST_USED[p] = shape === 63 ? 511 : 510 - (u >>> 6);
    LIST_START[p] = start;
    LIST_END[p] = end;
    LIST_SHORT[p] = 0;
  } else {
    LIST_USED[p] = u >>> 2;
    LIST_START[p] = 0;
    LIST_END[p] = 0;
    LIST_SHORT[p] = 1;
  }
  listOpen = p;
}

/** Spells the entries of open short page `p` up to entry `e` (or its data entries' end), while the input lasts. */
function listSpellTo(p: number, e: number): void {
  const r = listInput;
  const len = r.bytes.length;
  const lim = Math.min(e + 1, LIST_USED[p]!);
  let k = LIST_END[p]!;
  for (; k < lim && r.pos < len; k++) readSpelledEntry(r, p * 1024 + 2 * k);
  LIST_END[p] = k;
}

/** Finishes open page `p`: the rest of its spelled entries, then its link (entry 511). */
function listClose(p: number): void {
  if (LIST_SHORT[p] === 1) listSpellTo(p, 510);
  readSpelledEntry(listInput, p * 1024 + 1022);
  listOpen = -1;
}

/** Entry `e` of list page `p` as the layout above says (u32 halves into `out`). */
function listEntry(p: number, e: number, out: { lo: number; hi: number }): void {
  if (p >= listHeaders) {
    for (; listHeaders <= p; listHeaders++) {
      if (listOpen >= 0) listClose(listOpen);
      listHeader(listHeaders);
    }
  }
  if (p === listOpen) {
    if (e === 511) listClose(p);
    else if (LIST_SHORT[p] === 1 && e >= LIST_END[p]!) listSpellTo(p, e);
  }
  if ((e >= LIST_START[p]! && e < LIST_END[p]!) || e === 511) {
    out.lo = LIST_PAGES[p * 1024 + 2 * e]!;
    out.hi = LIST_PAGES[p * 1024 + 2 * e + 1]!;
  } else if (e < LIST_USED[p]!) {
    out.lo = ((p << 21) | (e << 12)) >>> 0;
    out.hi = 0x100 + p;
  } else {
    out.lo = 0xffff_ffff;
    out.hi = 0xffff_ffff;
  }
}

/** The page index of list page `hpa` in the current input, or -1 (an address outside the pages). */
function listPageIndex(hpa: number): number {
  const off = hpa - LIST_BASE;
  return off >= 0 && off % 0x1000 === 0 && off < listPageCount * 0x1000 ? off / 0x1000 : -1;
}

/** The list page {@link readListEntry} read last, and its index (-1: outside the input). */
let lastListHpa = -1;
let lastListPage = -1;

/** The entry reader handed to readLinkedList: one object per entry, as a caller's reader makes. */
function readListEntry(hpa: number, e: number): U64 {
  listReads++;
  if (hpa !== lastListHpa) {
    lastListHpa = hpa;
    lastListPage = listPageIndex(hpa);
  }
  const p = lastListPage;
  if (p < 0) return ONES;
  const x = { lo: 0, hi: 0 };
  listEntry(p, e, x);
  return x;
}

/**
 * One entry spelled by the input into `LIST_PAGES[at]`, `[at + 1]`: kind byte `k`, by `k & 7`: 0 any
 * u64 (8 more bytes); 1 NULL; 2, 3 and 7 list page `(k >>> 3) % 8` (the next page, an earlier one: a
 * loop, itself, or one past the input's pages); 4 a clean address with one bit of 11:0 or 63:52 set
 * (1 more byte); 5 NULL with one bit clear (1 more byte); 6 a clean address, up to 2^52 (3 more bytes).
 */
function readSpelledEntry(r: ByteReader, at: number): void {
  const pages = LIST_PAGES;
  const k = r.u8();
  let lo: number;
  let hi: number;
  switch (k & 7) {
    case 0:
      lo = r.u32();
      hi = r.u32();
      break;
    case 1:
      lo = 0xffff_ffff;
      hi = 0xffff_ffff;
      break;
    case 4: {
      const b = r.u8();
      const bit = b % 24;
      lo = LIST_BASE + ((b >>> 5) << 12);
      hi = 0;
      if (bit < 12) lo |= 1 << bit;
      else hi = (1 << (bit + 8)) >>> 0; // bits 63:52 are bits 31:20 of the high half
      break;
    }
    case 5: {
      const bit = r.u8() % 64;
      lo = bit < 32 ? ~(1 << bit) >>> 0 : 0xffff_ffff;
      hi = bit < 32 ? 0xffff_ffff : ~(1 << (bit - 32)) >>> 0;
      break;
    }
    case 6:
      lo = (r.u16() << 12) >>> 0;
      hi = r.u8() << 12;
      break;
    default:
      lo = LIST_BASE + ((k >>> 3) % 8) * 0x1000;
      hi = 0;
  }
  pages[at] = lo >>> 0;
  pages[at + 1] = hi;
}

/**
 * The oracle of readLinkedList, from 01-formats.md 1.3: the walk as the spec says it, over the same
 * pages, checking the decoder's answer as it goes. Fills ORACLE: list pages and data pages walked, how
 * the walk ended (0 clean, 1 an entry with bits 11:0 or 63:52 set, 2 a loop or more than `maxPages`
 * list pages), and the index of the first list page or data page the decoder's arrays do not hold at
 * that position (-1: none).
 */
const ORACLE = { lists: 0, data: 0, end: 0, badList: -1, badData: -1, seen: [] as number[] };
const ORACLE_ENTRY = { lo: 0, hi: 0 };
function oracleWalk(maxPages: number, listHpas: readonly number[], dataHpas: readonly number[]): void {
  const o = ORACLE;
  const x = ORACLE_ENTRY;
  o.lists = 0;
  o.data = 0;
  o.end = 0;
  o.badList = -1;
  o.badData = -1;
  o.seen.length = 0;
  let cur = LIST_BASE;
  for (;;) {
    if (o.lists >= maxPages || o.seen.includes(cur)) {
      o.end = 2;
      return;
    }
    o.seen.push(cur);
    if (listHpas[o.lists] !== cur && o.badList < 0) o.badList = o.lists;
    o.lists++;
    const p = listPageIndex(cur);
    if (p < 0) return; // a page outside the input reads as all NULL
    // Entries 0..510 are data pages; a NULL one ends the data, and with it the chain.
    for (let e = 0; e < 511; e++) {
      listEntry(p, e, x);
      const lo = x.lo;
      const hi = x.hi;
      if (lo === 0xffff_ffff && hi === 0xffff_ffff) return;
      if ((lo & 0xfff) !== 0 || hi >= 0x10_0000) {
        o.end = 1;
        return;
      }
      if (dataHpas[o.data] !== hi * 0x1_0000_0000 + lo && o.badData < 0) o.badData = o.data;
      o.data++;
    }
    // Entry 511 links the next list page; NULL ends the chain.
    listEntry(p, 511, x);
    if (x.lo === 0xffff_ffff && x.hi === 0xffff_ffff) return;
    if ((x.lo & 0xfff) !== 0 || x.hi >= 0x10_0000) {
      o.end = 1;
      return;
    }
    cur = x.hi * 0x1_0000_0000 + x.lo;
  }
}

/**
 * readLinkedList over up to 8 list pages given by the input: terminates, reports loops, never throws,
 * and agrees with the spec's walk ({@link oracleWalk}) on the list pages, the data pages and how the
 * walk ended. Byte 0 is the page limit (1..10), byte 1 the number of list pages (1..8); then each page
 * in turn: its shape ({@link listHeader}), its spelled entries, its link (entry 511). Entries are
 * spelled by {@link readSpelledEntry}; bytes past the end read as 0 (an empty page: the chain ends
 * there). `walk` is the decoder under test (a planted wrong one in test/fuzz/lean.test.ts).
 */
export function linkedListTargetFor(walk: typeof readLinkedList): FuzzTarget {
  return {
    name: "linked-list",
    typedErrorsAllowed: true,
    run(input) {
      const r = new ByteReader(input);
      const maxPages = (r.u8() % 10) + 1;
      const nPages = (r.u8() % 8) + 1;
      listInput = r;
      listHeaders = 0;
      listOpen = -1;
      listPageCount = nPages;
      listReads = 0;
      lastListHpa = -1;
      const res = walk(readListEntry, LIST_BASE, maxPages);
      check(
        res.listHpas.length <= maxPages + 1,
        () => `${res.listHpas.length} list pages read, limit ${maxPages}`,
      );
      check(
        listReads <= (maxPages + 1) * 512,
        () => `${listReads} entries read for at most ${maxPages} pages`,
      );
      oracleWalk(maxPages, res.listHpas, res.dataHpas);
      const o = ORACLE;
      const end = res.violation === null ? 0 : res.violation.rule === "list-cycle" ? 2 : 1;
      check(
        res.listHpas.length === o.lists &&
          res.dataHpas.length === o.data &&
          o.badList < 0 &&
          o.badData < 0 &&
          end === o.end,
        () =>
          `readLinkedList: ${res.listHpas.length} list pages, ${res.dataHpas.length} data pages, ` +
          `${res.violation?.rule ?? "no violation"}; the spec's walk: ${o.lists}, ${o.data}, end ${o.end}` +
          (o.badList >= 0 ? `, list page ${o.badList} differs` : "") +
          (o.badData >= 0 ? `, data page ${o.badData} differs` : ""),
      );
    },
  };
}

/** The linked-list target on the library's readLinkedList. */
export const linkedListTarget: FuzzTarget = linkedListTargetFor(readLinkedList);

/**
 * What the u64-text target's bytes stand for: the digits of each accepted form, and odd characters
 * (`/` and `:` around the digits, `@`, `` ` ``, `G` and `g` around the letters, signs, a point, white
 * space inside and around the number). Random UTF-16 text was almost never a number (under 2% of
 * inputs parsed), so the parser's digit loops, separators and range checks were seldom reached.
 */
const HEX_DIGITS = "0123456789abcdefABCDEF0000_";
const DEC_DIGITS = "0123456789";
/** 2^64 in decimal: the first number parseU64 must refuse as out of range. */
const DEC_EDGE = "18446744073709551616";
const ODD_CHARS = " /:@`Gg-+.\t\n\u00a0\u2028";
const ANY_CHARS = `${HEX_DIGITS}${ODD_CHARS}xX0x`;

/**
 * The oracle of parseU64: its accepted forms as regular expressions, and the value by other means than
 * its digit loops: `Number.parseInt` of 8-digit hex chunks, `Number` for decimals below 10^15 (exact),
 * BigInt for longer ones.
 */
const ORACLE_HEX = /^0[xX][0-9a-fA-F_]{1,32}$/;
const ORACLE_DEC = /^[0-9]{1,20}$/;

/** `text` by the oracle: halves, or the error code it must be refused with. */
function oracleU64(text: string): U64 | "bad-format" | "out-of-range" {
  const t = text.trim();
  if (ORACLE_HEX.test(t)) {
    const digits = t.indexOf("_") < 0 ? t.slice(2) : t.slice(2).replace(/_/g, "");
    const n = digits.length;
    if (n === 0) return "bad-format";
    let z = 0; // leading zeros, all but the last digit
    while (z < n - 1 && digits.charCodeAt(z) === 48) z++;
    if (n - z > 16) return "out-of-range";
    const cut = Math.max(z, n - 8);
    return {
      lo: Number.parseInt(digits.slice(cut), 16),
      hi: cut === z ? 0 : Number.parseInt(digits.slice(z, cut), 16),
    };
  }
  if (!ORACLE_DEC.test(t)) return "bad-format";
  if (t.length <= 15) {
    const v = Number(t);
    const hi = Math.floor(v / TWO32);
    return { lo: v - hi * TWO32, hi };
  }
  const v = BigInt(t);
  if (v > 0xffff_ffff_ffff_ffffn) return "out-of-range";
  return { lo: Number(v & 0xffff_ffffn), hi: Number(v >> 32n) };
}

/**
 * The text the u64-text target reads, as UTF-16 code units: one reused array for each length (up to
 * 47 characters), so
 * `String.fromCharCode.apply` makes the string in one piece (`+=` per character built a rope that
 * parseU64's `trim` then had to flatten: 2.5 times the cost in a micro-run).
 */
const TEXT_UNITS: readonly number[][] = Array.from({ length: 48 }, (_, n) => new Array<number>(n).fill(0));

/**
 * parseU64 over text built from the input, against the regular-expression and bigint oracle: the same
 * halves for text it accepts, the same error code for text it refuses. Byte 0 picks the form (decimal
 * for 1 in bits 1:0, free text for 7 in bits 2:0, else hex with `0x` or `0X` by bit 2) and byte 1 the
 * length (hex 1..34 digits, decimal 1..22, free text 0..47 characters); a decimal form with bits 4:2
 * all set is 19..21 digits that start with 10..20 digits of 2^64 ({@link DEC_EDGE}). Each later byte
 * is a character: below 0xfe a digit of the form (free text:
 * any of {@link ANY_CHARS}), 0xfe and the next byte one of {@link ODD_CHARS}, 0xff and the next two
 * bytes one arbitrary UTF-16 code unit, so any text can still be built. Bytes past the end read as 0.
 * `parse` is the parser under test (a planted wrong one in test/fuzz/lean.test.ts).
 */
export function u64TextTargetFor(parse: typeof parseU64): FuzzTarget {
  return {
    name: "u64-text",
    typedErrorsAllowed: true,
    run(input) {
      const n = input.length;
      const form = n > 0 ? input[0]! : 0;
      const lenByte = n > 1 ? input[1]! : 0;
      let k = 0;
      let len: number;
      let digits: string;
      let edge = 0; // leading characters of 2^64 in decimal (DEC_EDGE) that the text starts with
      if ((form & 3) === 1) {
        digits = DEC_DIGITS;
        len = 1 + (lenByte % 22);
        // One decimal text in 8 is 2^64's first 10..20 digits, then digits from the input, so the
        // range check at 2^64 is reached (random 20-digit text is near it once in 10^9).
        if ((form & 0x1c) === 0x1c) {
          len = 19 + (lenByte % 3);
          edge = Math.min(len, 10 + (lenByte % 11));
        }
      } else if ((form & 7) === 7) {
        digits = ANY_CHARS;
        len = lenByte % 48;
      } else {
        digits = HEX_DIGITS;
        // Mostly up to 18 digits (a u64 is 16), sometimes up to 34 (the form allows 32 with `_`).
        len = 2 + 1 + (lenByte < 0xe0 ? lenByte % 18 : lenByte % 34);
      }
      const units = TEXT_UNITS[len]!;
      if (digits === HEX_DIGITS) {
        units[k++] = 48;
        units[k++] = form & 4 ? 88 : 120;
      }
      for (; k < edge; k++) units[k] = DEC_EDGE.charCodeAt(k);
      for (let i = 2; k < len; i++) {
        const b = i < n ? input[i]! : 0;
        if (b < 0xfe) units[k++] = digits.charCodeAt(b % digits.length);
        else if (b === 0xfe) {
          units[k++] = ODD_CHARS.charCodeAt((i + 1 < n ? input[i + 1]! : 0) % ODD_CHARS.length);
          i += 1;
        } else {
          units[k++] = (i + 1 < n ? input[i + 1]! : 0) | ((i + 2 < n ? input[i + 2]! : 0) << 8);
          i += 2;
        }
      }
      const s = String.fromCharCode.apply(null, units);
      let v: U64;
      try {
        v = parse(s);
      } catch (e) {
        const want = oracleU64(s);
        check(
          isTdxpaError(e) && e.code === want,
          () =>
            `parseU64(${JSON.stringify(s)}) refused it (${isTdxpaError(e) ? e.code : e}); the oracle says ${typeof want === "string" ? want : u64ToHex(want.lo, want.hi)}`,
        );
        return; // refused as the oracle refuses (judge allows a typed error: no second throw)
      }
      const want = oracleU64(s);
      check(
        typeof want !== "string" && same(v, want),
        () =>
          `parseU64(${JSON.stringify(s)}) gave ${u64ToHex(v.lo, v.hi)}; the oracle says ${typeof want === "string" ? want : u64ToHex(want.lo, want.hi)}`,
      );
      check(
        Number.isInteger(v.lo) &&
          Number.isInteger(v.hi) &&
          v.lo >= 0 &&
          v.hi >= 0 &&
          v.lo < TWO32 &&
          v.hi < TWO32,
        () => `parseU64(${JSON.stringify(s)}) gave non-halves`,
      );
      const back = parse(u64ToHex(v.lo, v.hi));
      check(same(back, v), () => `parseU64(${JSON.stringify(s)}) does not round-trip`);
    },
  };
}

/** The u64-text target on the library's parseU64. */
export const u64TextTarget: FuzzTarget = u64TextTargetFor(parseU64);

/** parseScenario over a JSON document read from the input: a scenario or a typed error. */
export const scenarioTarget: FuzzTarget = {
  name: "scenario-doc",
  typedErrorsAllowed: true,
  run(input) {
    let text = "";
    for (const b of input) text += String.fromCharCode(b);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return;
    }
    parseScenario(doc);
  },
};

/** Every target, by name. */
export const TARGETS: readonly FuzzTarget[] = [
  statusTarget,
  formatsTarget,
  entriesTarget,
  linkedListTarget,
  u64TextTarget,
  scenarioTarget,
  seamcallTarget,
];

/** The target named `name`, or undefined. */
export function targetByName(name: string): FuzzTarget | undefined {
  return TARGETS.find((t) => t.name === name);
}
