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
 * The list pages of the linked-list target (reused): up to 8 pages of 512 entries as u32 halves, of
 * which only the entries the input spells out are written. Page `p` is, entry by entry: entries below
 * `LIST_EXPLICIT[p]` and entry 511 as written; then, up to `LIST_USED[p]`, entries read after the input
 * ran out (kind 0, a raw zero entry); NULL from there to 510.
 */
const LIST_PAGES = new Uint32Array(8 * 1024);
const LIST_USED = new Int32Array(8);
const LIST_EXPLICIT = new Int32Array(8);
const LIST_BASE = 0x1000_0000;
/** Pages of the current input, and entries the decoder read (state of the one reader below). */
let listPageCount = 0;
let listReads = 0;

/** Entry `e` of list page `p` as the layout above says (u32 halves into `out`). */
function listEntry(p: number, e: number, out: { lo: number; hi: number }): void {
  if (e < LIST_EXPLICIT[p]! || e === 511) {
    out.lo = LIST_PAGES[p * 1024 + 2 * e]!;
    out.hi = LIST_PAGES[p * 1024 + 2 * e + 1]!;
  } else if (e < LIST_USED[p]!) {
    out.lo = 0;
    out.hi = 0;
  } else {
    out.lo = 0xffff_ffff;
    out.hi = 0xffff_ffff;
  }
}

/** The page index of list page `hpa` in the current input, or -1 (an address outside the 8 pages). */
function listPageIndex(hpa: number): number {
  const off = hpa - LIST_BASE;
  return off >= 0 && off % 0x1000 === 0 && off < listPageCount * 0x1000 ? off / 0x1000 : -1;
}

/** The entry reader handed to readLinkedList: one object per entry, as a caller's reader makes. */
function readListEntry(hpa: number, e: number): U64 {
  listReads++;
  const p = listPageIndex(hpa);
  if (p < 0) return ONES;
  const x = { lo: 0, hi: 0 };
  listEntry(p, e, x);
  return x;
}

/**
 * The oracle of readLinkedList, from 01-formats.md 1.3: the walk as the spec says it, over the same
 * pages. Fills ORACLE: list pages, data pages and a sum of their addresses, and how it ended (0 clean,
 * 1 an entry with bits 11:0 or 63:52 set, 2 a loop or more than `maxPages` list pages).
 */
const ORACLE = { lists: 0, data: 0, sum: 0, end: 0, seen: [] as number[] };
/** An order-sensitive checksum of data page addresses (below 2^52: both halves exact). */
const listSum = (sum: number, hpa: number): number =>
  (Math.imul(sum, 31) + (hpa >>> 0) + ((hpa / 0x1_0000_0000) | 0)) | 0;
const ORACLE_ENTRY = { lo: 0, hi: 0 };
function oracleWalk(maxPages: number): void {
  const o = ORACLE;
  const x = ORACLE_ENTRY;
  o.lists = 0;
  o.data = 0;
  o.sum = 0;
  o.end = 0;
  o.seen.length = 0;
  let cur = LIST_BASE;
  for (;;) {
    if (o.lists >= maxPages || o.seen.includes(cur)) {
      o.end = 2;
      return;
    }
    o.seen.push(cur);
    o.lists++;
    const p = listPageIndex(cur);
    // Entries 0..510 are data pages; a NULL one ends the data, and with it the chain.
    for (let e = 0; e < 511; e++) {
      if (p < 0) return; // a page outside the input reads as all NULL
      listEntry(p, e, x);
      if (x.lo === 0xffff_ffff && x.hi === 0xffff_ffff) return;
      if ((x.lo & 0xfff) !== 0 || x.hi >= 0x10_0000) {
        o.end = 1;
        return;
      }
      o.data++;
      o.sum = listSum(o.sum, x.hi * 0x1_0000_0000 + x.lo);
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
 * readLinkedList over up to 8 list pages given by the input (entries address them by index through bits
 * 14:12, or are raw): terminates, reports loops, never throws, and agrees with the spec's walk
 * ({@link oracleWalk}) on the list pages, the data pages and how the walk ended. `walk` is the decoder
 * under test (a planted wrong one in test/fuzz/lean.test.ts).
 */
export function linkedListTargetFor(walk: typeof readLinkedList): FuzzTarget {
  return {
    name: "linked-list",
    typedErrorsAllowed: true,
    run(input) {
      const r = new ByteReader(input);
      const len = input.length;
      const maxPages = (r.u8() % 10) + 1;
      const nPages = (r.u8() % 8) + 1;
      const pages = LIST_PAGES;
      for (let p = 0; p < nPages; p++) {
        const used = r.u16() % 513;
        LIST_USED[p] = used;
        // Entries up to `used` (and 511) read a kind byte and maybe an entry; once the input has run
        // out every read is 0, so the rest of the page is known without reading (see LIST_PAGES).
        let e = 0;
        for (let at = p * 1024; e < used && e < 511 && r.pos < len; e++, at += 2) {
          const kind = r.u8();
          let lo = 0xffff_ffff;
          let hi = 0xffff_ffff;
          if (kind % 4 === 0) {
            lo = r.u32();
            hi = r.u32();
          } else if (kind % 4 !== 1) {
            lo = LIST_BASE + (r.u8() % 8) * 0x1000;
            hi = 0;
          }
          pages[at] = lo;
          pages[at + 1] = hi;
        }
        LIST_EXPLICIT[p] = e;
        let lo = 0xffff_ffff;
        let hi = 0xffff_ffff;
        const kind = r.u8(); // entry 511 (also when used is 512: it comes last either way)
        if (kind % 4 === 0) {
          lo = r.u32();
          hi = r.u32();
        } else if (kind % 4 !== 1) {
          lo = LIST_BASE + (r.u8() % 8) * 0x1000;
          hi = 0;
        }
        pages[p * 1024 + 1022] = lo;
        pages[p * 1024 + 1023] = hi;
      }
      listPageCount = nPages;
      listReads = 0;
      const res = walk(readListEntry, LIST_BASE, maxPages);
      check(
        res.listHpas.length <= maxPages + 1,
        () => `${res.listHpas.length} list pages read, limit ${maxPages}`,
      );
      check(
        listReads <= (maxPages + 1) * 512,
        () => `${listReads} entries read for at most ${maxPages} pages`,
      );
      oracleWalk(maxPages);
      const o = ORACLE;
      let sum = 0;
      for (const h of res.dataHpas) sum = listSum(sum, h);
      const end = res.violation === null ? 0 : res.violation.rule === "list-cycle" ? 2 : 1;
      check(
        res.listHpas.length === o.lists && res.dataHpas.length === o.data && sum === o.sum && end === o.end,
        () =>
          `readLinkedList: ${res.listHpas.length} list pages, ${res.dataHpas.length} data pages (sum ${sum}), ` +
          `${res.violation?.rule ?? "no violation"}; the spec's walk: ${o.lists}, ${o.data} (sum ${o.sum}), end ${o.end}`,
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
    let digits = t.slice(2).replace(/_/g, "");
    if (digits.length === 0) return "bad-format";
    digits = digits.replace(/^0+(?=.)/, "");
    if (digits.length > 16) return "out-of-range";
    const cut = Math.max(0, digits.length - 8);
    return {
      lo: Number.parseInt(digits.slice(cut), 16),
      hi: cut === 0 ? 0 : Number.parseInt(digits.slice(0, cut), 16),
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

/** The text the u64-text target reads (reused buffer of UTF-16 code units). */
const TEXT_UNITS = new Uint16Array(512);

/**
 * parseU64 over text built from the input, against the regular-expression and bigint oracle: the same
 * halves for text it accepts, the same error code for text it refuses. Byte 0 picks the form (decimal
 * for 1 in bits 1:0, free text for 7 in bits 2:0, else hex with `0x` or `0X` by bit 2) and byte 1 the length (hex 1..34 digits, decimal 1..22, free
 * text 0..47 characters); each later byte is a character: below 0xfe a digit of the form (free text:
 * any of {@link ANY_CHARS}), 0xfe and the next byte one of {@link ODD_CHARS}, 0xff and the next two
 * bytes one arbitrary UTF-16 code unit, so any text can still be built. Bytes past the end read as 0.
 * `parse` is the parser under test (a planted wrong one in test/fuzz/lean.test.ts).
 */
export function u64TextTargetFor(parse: typeof parseU64): FuzzTarget {
  return {
    name: "u64-text",
    typedErrorsAllowed: true,
    run(input) {
      const units = TEXT_UNITS;
      const n = input.length;
      const form = n > 0 ? input[0]! : 0;
      const lenByte = n > 1 ? input[1]! : 0;
      let k = 0;
      let len: number;
      let digits: string;
      if ((form & 3) === 1) {
        digits = DEC_DIGITS;
        len = 1 + (lenByte % 22);
      } else if ((form & 7) === 7) {
        digits = ANY_CHARS;
        len = lenByte % 48;
      } else {
        digits = HEX_DIGITS;
        // Mostly up to 18 digits (a u64 is 16), sometimes up to 34 (the form allows 32 with `_`).
        len = 2 + 1 + (lenByte < 0xe0 ? lenByte % 18 : lenByte % 34);
        units[k++] = 48;
        units[k++] = form & 4 ? 88 : 120;
      }
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
      let s = "";
      for (let j = 0; j < k; j++) s += String.fromCharCode(units[j]!);
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
