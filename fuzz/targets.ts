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
import { parseU64, TWO32, U64_ONES, u64Equal, u64ToHex } from "../src/common/u64.js";
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

/** decodeStatus / statusText: any u64 decodes; the raw field round-trips. */
export const statusTarget: FuzzTarget = {
  name: "status",
  typedErrorsAllowed: true,
  run(input) {
    const r = new ByteReader(input);
    const v = r.u64();
    const d = decodeStatus(v.lo, v.hi);
    statusText(v);
    const back = parseU64(d.raw);
    check(same(back, v), () => `decodeStatus raw ${d.raw} does not round-trip ${u64ToHex(v.lo, v.hi)}`);
    check(d.info === v.lo >>> 0, () => `info ${d.info} is not bits 31:0`);
    check(
      d.operandId === (v.hi >>> 31 === 1 && v.hi >>> 0 !== 0x8000_ff00 ? v.lo >>> 0 : null),
      () => `operand id ${d.operandId} of ${d.raw}: bits 31:0 are an operand id only on a module error`,
    );
  },
};

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

/** The list pages the linked-list target builds (reused). */
const LIST_PAGES = new Uint32Array(8 * 1024);

/**
 * readLinkedList over up to 8 list pages given by the input (entries address them by index through bits
 * 14:12, or are raw): terminates, reports loops, never throws.
 */
export const linkedListTarget: FuzzTarget = {
  name: "linked-list",
  typedErrorsAllowed: true,
  run(input) {
    const r = new ByteReader(input);
    const maxPages = (r.u8() % 10) + 1;
    const nPages = (r.u8() % 8) + 1;
    const pages = LIST_PAGES; // 8 list pages of 512 entries, as u32 halves (reused)
    const base = 0x1000_0000;
    for (let p = 0; p < nPages; p++) {
      const used = r.u16() % 513;
      for (let e = 0, at = p * 1024; e < 512; e++, at += 2) {
        let lo = 0xffff_ffff;
        let hi = 0xffff_ffff;
        if (e < used || e === 511) {
          const kind = r.u8();
          if (kind % 4 === 0) {
            lo = r.u32();
            hi = r.u32();
          } else if (kind % 4 !== 1) {
            lo = base + (r.u8() % 8) * 0x1000;
            hi = 0;
          }
        }
        pages[at] = lo;
        pages[at + 1] = hi;
      }
    }
    let reads = 0;
    const res = readLinkedList(
      (hpa, e) => {
        reads++;
        const p = (hpa - base) / 0x1000;
        if (!Number.isInteger(p) || p < 0 || p >= nPages) return ONES;
        return { lo: pages[p * 1024 + 2 * e]!, hi: pages[p * 1024 + 2 * e + 1]! };
      },
      base,
      maxPages,
    );
    check(
      res.listHpas.length <= maxPages + 1,
      () => `${res.listHpas.length} list pages read, limit ${maxPages}`,
    );
    check(reads <= (maxPages + 1) * 512, () => `${reads} entries read for at most ${maxPages} pages`);
  },
};

/** parseU64 over arbitrary text (bytes as UTF-16 code units): a U64 or a typed error. */
export const u64TextTarget: FuzzTarget = {
  name: "u64-text",
  typedErrorsAllowed: true,
  run(input) {
    let s = "";
    for (let i = 0; i + 1 < input.length; i += 2) s += String.fromCharCode(input[i]! | (input[i + 1]! << 8));
    if (input.length % 2 === 1) s += String.fromCharCode(input[input.length - 1]!);
    const v = parseU64(s);
    check(
      Number.isInteger(v.lo) &&
        Number.isInteger(v.hi) &&
        v.lo >= 0 &&
        v.hi >= 0 &&
        v.lo < TWO32 &&
        v.hi < TWO32,
      () => `parseU64(${JSON.stringify(s)}) gave non-halves`,
    );
    const back = parseU64(u64ToHex(v.lo, v.hi));
    check(same(back, v), () => `parseU64(${JSON.stringify(s)}) does not round-trip`);
  },
};

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
