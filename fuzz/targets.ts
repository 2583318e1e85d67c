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
 * with valid entries and one bad one, …) and in how {@link seamcallProgram} reads them.
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
import { leafRax, Regs } from "../src/common/seamcall.js";
import { decodeStatus, LEAF, type LeafName, leafName, REG, statusText } from "../src/common/status.js";
import {
  hpaLo,
  hpaToPfn,
  hpaToU64,
  parseU64,
  pfnToHpa,
  TWO32,
  type U64,
  U64_ONES,
  u64Equal,
  u64ToHex,
  u64ToNumber,
} from "../src/common/u64.js";
import type { Page } from "../src/host/page.js";
import { forwardToDevice, functionId, writeSpdmConf } from "../src/host/spdm.js";
import { rootPortDevfn } from "../src/hw/devices.js";
import { defaultPlatform, METADATA_FIELD_IDS, type Platform } from "../src/hw/platform.js";
import { createMachine, type Machine } from "../src/machine.js";
import { checkConservation } from "../src/observe/conservation.js";
import { recordRawCall } from "../src/scenario/raw-handover.js";
import { parseScenario } from "../src/scenario/schema.js";
import { ByteReader } from "./bytes.js";

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

/** Runs `t` on `input` and classifies what happened. Never throws. */
export function judge(t: FuzzTarget, input: Uint8Array): FuzzVerdict {
  try {
    t.run(input);
    return { ok: true };
  } catch (e) {
    if (e instanceof FuzzBug) return { ok: false, problem: e.message };
    if (t.typedErrorsAllowed && isTdxpaError(e)) return { ok: true };
    const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return {
      ok: false,
      problem: `${isTdxpaError(e) ? "typed error from the emulator" : "untyped exception"}: ${what}`,
    };
  }
}

const ONES = U64_ONES;
// Every value here comes from ByteReader or a decoder: halves are already u32, so u64Equal compares them.
const same = u64Equal;

function check(cond: boolean, message: () => string): void {
  if (!cond) throw new FuzzBug(message());
}

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

// ---------------------------------------------------------------------------------------------------
// The SEAMCALL entry

/** Longest a single fuzzed SEAMCALL may take before it counts as a hang. */
export const HANG_MS = 2000;

/** Most calls one program makes (the step limit: a program always ends). */
export const MAX_PROGRAM_CALLS = 48;

/** Known leaves in the order the program's leaf byte indexes them. */
export const FUZZ_LEAVES: readonly LeafName[] = Object.keys(LEAF) as LeafName[];

/** Input registers a program sets. */
export const FUZZ_REGS: readonly number[] = [REG.RCX, REG.RDX, REG.R8, REG.R9, REG.R10];

/** The platform fuzzed programs run on: the default one with a 24-page extension pool. */
export function fuzzPlatform(): Platform {
  const p = defaultPlatform();
  return { ...p, name: "fuzz", metadata: { ...p.metadata, MEMORY_POOL_REQUIRED_PAGES: 24 } };
}

const PLATFORM = fuzzPlatform();

const CREATORS = new Set<number>([
  LEAF["TDH.IOMMU.SETUP"],
  LEAF["TDH.SPDM.CREATE"],
  LEAF["TDH.IDE.STREAM.CREATE"],
]);

/** Counts across calls of {@link seamcallProgram} (the fuzz driver reads them for its figures). */
export const seamcallStats = { programs: 0, calls: 0, success: 0, statuses: new Map<string, number>() };

/** Pages a program owns for its whole life (never freed, so every page it names stays allocated). */
interface Harness {
  readonly m: Machine;
  readonly pool: Page[];
  readonly blocks: Page[];
  readonly msg: Page[];
  /** RCX values of successful calls (object ids), for later calls to name. */
  readonly ids: U64[];
  /** Operands built so far (IOMMU.CLEAR must name the root SETUP had). */
  readonly operands: U64[];
}

const hpaU64 = hpaToU64;

/**
 * A raw value that would name a free page of a TDMR (or a free second page of a block) is moved above
 * all memory (bit 45 set): the harness may only hand the module pages it allocated, or the
 * conservation check would blame the module for the harness's own mistake.
 */
function sanitize(h: Harness, v: U64): U64 {
  if (v.hi >>> 20 !== 0) return v;
  const pfn = hpaToPfn(u64ToNumber(v.lo, v.hi)!); // below 2^52: bits 63:52 are clear
  for (let i = 0; i < 2; i++) {
    const p = pfn + i;
    if (h.m.module.pamt.inTdmr(p) && h.m.alloc.isFree(p)) return { lo: v.lo, hi: (v.hi | 0x2000) >>> 0 };
  }
  return v;
}

/** Entry and page perturbations (one byte): most keep the value, the rest break one field. */
function perturb(h: Harness, v: U64, p: number, prev: U64 | null): U64 {
  const ks = h.m.platform.keyIds;
  switch (p % 24) {
    case 16:
      return { lo: (v.lo | ((p * 37) % 0xfff) | 1) >>> 0, hi: v.hi };
    case 17:
      return { lo: v.lo, hi: (v.hi | (1 << (20 + (p % 12)))) >>> 0 };
    case 18:
      return { lo: v.lo, hi: (v.hi + ks.firstPrivate * 2 ** (ks.shift - 32)) >>> 0 };
    case 19:
      return { lo: v.lo, hi: (v.hi + 2 ** (ks.shift - 32)) >>> 0 };
    case 20:
      return { lo: (v.lo + 0x800) >>> 0, hi: v.hi };
    case 21:
      return ONES;
    case 22:
      return { lo: ((v.lo & ~0xfff) | [1, 3, 4, 2][p % 4]!) >>> 0, hi: v.hi };
    case 23:
      return prev ?? v;
    default:
      return v;
  }
}

/** A page address chosen by kind: harness pages (most often), or places no host may hand over. */
function pageValue(h: Harness, kind: number, idx: number): { v: U64; pages: number } {
  const p = h.m.platform;
  switch (kind % 12) {
    case 6:
      return { v: hpaU64(h.blocks[idx % h.blocks.length]!.hpa), pages: 2 };
    case 7: // a reserved area: the first MiB of TDMR 0
      return { v: hpaU64(pfnToHpa(idx % 256)), pages: 1 };
    case 8: // the module's own range
      return { v: hpaU64(p.moduleRange.base + pfnToHpa(idx % 256)), pages: 1 };
    case 9: // unbacked: above all memory
      return { v: hpaU64(1024 * 2 ** 30 + pfnToHpa(idx)), pages: 1 };
    case 10:
      return { v: hpaU64(h.msg[idx % h.msg.length]!.hpa), pages: 1 };
    default:
      return { v: hpaU64(h.pool[idx % h.pool.length]!.hpa), pages: 1 };
  }
}

/** Builds a root page (a fresh allocated page) from entry tokens; returns its HPA and the count. */
function buildRoot(h: Harness, r: ByteReader, format: ListFormat): { rootHpa: number; count: number } {
  const root = h.m.alloc.allocPage({ tag: "fuzz:root", zero: true });
  if (root === null) throw new FuzzBug("harness: out of memory for a root page");
  const c = r.u8();
  const mtCount = h.m.platform.metadata.IOMMU_MT_PAGE_COUNT + 2;
  const count = format === "iommu-mt" && c < 200 ? mtCount : (c % 24) + 1;
  const words = h.m.mem.words(root.pfn);
  let prev: U64 | null = null;
  const q = 2 ** h.m.platform.metadata.iqOrder;
  for (let i = 0; i < count; i++) {
    const kind = r.u8();
    const idx = r.u8();
    const pb = r.u8();
    let v: U64;
    if (kind % 12 === 11) v = sanitize(h, r.u64());
    else {
      const wantBlock = format === "iommu-mt" && i < 2;
      const pv = pageValue(h, wantBlock && kind % 12 < 6 ? 6 : kind, idx + i);
      v = pv.v;
      if (format === "iommu-mt" && pv.pages > 1 && wantBlock) v = { lo: (v.lo | q) >>> 0, hi: v.hi };
    }
    v = perturb(h, v, pb, prev);
    words[2 * i] = v.lo;
    words[2 * i + 1] = v.hi;
    prev = v;
  }
  return { rootHpa: root.hpa, count };
}

/** An operand of `format` (tokens 9–11), with an operand-level perturbation. */
function operand(h: Harness, r: ByteReader, format: ListFormat): U64 {
  const { rootHpa, count } = buildRoot(h, r, format);
  const w = h.m.mem.words(hpaToPfn(rootHpa));
  // Singleton HPA_ARRAY_T: the operand is the one page itself (entry 0 as built, perturbation included).
  let v: U64 =
    format === "hpa-list-info"
      ? encodeHpaListInfo({ rootHpa, count })
      : format === "iommu-mt"
        ? encodeIommuMt(rootHpa)
        : count === 1
          ? sanitize(h, { lo: w[0]!, hi: w[1]! })
          : encodeHpaArray({ count, rootHpa });
  const p = r.u8();
  const ks = h.m.platform.keyIds;
  switch (p % 16) {
    case 10: // a reserved operand bit
      return {
        lo: (v.lo | (1 << (p % 3))) >>> 0,
        hi: (v.hi | (format === "iommu-mt" ? 1 << 31 : 1 << 21)) >>> 0,
      };
    case 11: // FIRST_ENTRY beyond LAST_ENTRY (list info) or a count off by one
      return format === "hpa-list-info"
        ? { lo: (v.lo | (Math.min(511, count) << 3)) >>> 0, hi: v.hi }
        : { lo: v.lo, hi: (v.hi + (1 << 23)) >>> 0 };
    case 12: // root with a private KeyID
      return { lo: v.lo, hi: (v.hi + ks.firstPrivate * 2 ** (ks.shift - 32)) >>> 0 };
    case 13: // root in the module's range
      v = { lo: ((v.lo & 0xfff) | h.m.platform.moduleRange.base) >>> 0, hi: v.hi & 0xfff0_0000 };
      return v;
    case 14: // root is a page the module may own
      return { lo: ((v.lo & 0xfff) | hpaLo(h.pool[p % h.pool.length]!.hpa)) >>> 0, hi: v.hi };
    case 15: // root unbacked
      return { lo: v.lo & 0xfff, hi: (v.hi | 0x100) >>> 0 };
    default:
      return v;
  }
}

/** One register value from a token. */
function regValue(h: Harness, r: ByteReader): U64 {
  const t = r.u8();
  const p = h.m.platform;
  switch (t % 16) {
    case 0:
      return { lo: 0, hi: 0 };
    case 1:
      return sanitize(h, r.u64());
    case 2:
      return { lo: r.u8(), hi: 0 };
    case 3: {
      const ids = Object.values(METADATA_FIELD_IDS);
      return parseU64(ids[r.u8() % ids.length]!);
    }
    case 4: {
      const u = p.iommus[r.u8() % p.iommus.length]!;
      return hpaU64(u.regBase);
    }
    case 5: {
      const ds = p.devices ?? [];
      return ds.length === 0 ? { lo: 0, hi: 0 } : functionId(ds[r.u8() % ds.length]!);
    }
    case 6:
    case 15: {
      const pv = pageValue(h, r.u8(), r.u8());
      return t % 16 === 15 ? perturb(h, pv.v, 18, null) : perturb(h, pv.v, r.u8(), null);
    }
    case 7:
      return hpaU64(h.msg[0]!.hpa);
    case 8:
      // The response page, or (odd next byte) the spdm_conf page.
      return hpaU64(h.msg[(r.u8() & 1) === 0 ? 1 : 5]!.hpa);
    case 9:
    case 10:
    case 11: {
      const v = operand(h, r, t % 16 === 9 ? "hpa-list-info" : t % 16 === 10 ? "hpa-array" : "iommu-mt");
      h.operands.push(v);
      return v;
    }
    case 12: {
      // stream_info: a root port's devfn (or one no port has), selective or not.
      const ports = p.rootPorts ?? [];
      const b = r.u8();
      const devfn =
        ports.length === 0 || b % (ports.length + 1) === ports.length
          ? b
          : rootPortDevfn(ports, b % ports.length);
      return { lo: (devfn & 0xff) | ((r.u8() & 1) << 8), hi: 0 };
    }
    case 13:
      return ONES;
    default: {
      // An earlier operand (t bit 4) or an id a successful call returned in RCX.
      const from = (t & 0x10) !== 0 ? h.operands : h.ids;
      const b = r.u8();
      return from.length === 0 ? { lo: b, hi: 0 } : from[from.length - 1 - (b % from.length)]!;
    }
  }
}

function now(): number {
  const p = (globalThis as { performance?: { now(): number } }).performance;
  return p === undefined ? Date.now() : p.now();
}

/** Builds the harness for one program from its configuration byte. */
function harness(r: ByteReader): Harness {
  const cfg = r.u8();
  const arg = r.u8();
  const mode = cfg & 3;
  const m = createMachine(PLATFORM, {
    interrupts:
      mode === 1
        ? { kind: "every", k: (arg % 8) + 1 }
        : mode === 2
          ? { kind: "random", p: 0.1 + (arg % 5) / 10, seed: arg }
          : { kind: "none" },
    behaviours: {
      clobberInputsOnInterrupt: (cfg & 4) === 0,
      moduleOwnedSharedPage: (cfg & 8) === 0 ? "report" : "reject",
      releaseSingletonStrict: (cfg & 16) === 0,
      unbackedReadsAllOnes: (cfg & 32) === 0,
      spdmKeyRefreshAfter: (cfg & 64) === 0 ? 0 : 5,
      startConfigured: (cfg & 128) !== 0,
    },
  });
  const pool = m.alloc.allocPagesBulk(64, { tag: "fuzz:pool", zero: true });
  const blocks: Page[] = [];
  for (let i = 0; i < 4; i++) blocks.push(m.alloc.allocPages(1, { tag: "fuzz:queue", zero: true })!);
  const msg = m.alloc.allocPagesBulk(6, { tag: "fuzz:msg", zero: true });
  // msg[5] holds the host's spdm_conf (TDH.SPDM.CONNECT's RDX).
  writeSpdmConf(m.kernel, msg[5]!.pfn);
  return { m, pool, blocks, msg, ids: [], operands: [] };
}

/**
 * Runs a program of raw SEAMCALLs read from `input` on a fresh machine: a configuration (interrupt
 * plan, behaviours), then up to {@link MAX_PROGRAM_CALLS} steps, each a call of a known leaf (or a raw
 * RAX) with register tokens, a re-issue of the previous register file as returned, or the host
 * forwarding the module's SPDM request to a device (then optionally re-issuing the previous call's
 * inputs). Throws {@link FuzzBug} on a conservation failure or
 * a hang; returns the machine for inspection.
 */
export function seamcallProgram(input: Uint8Array): Machine {
  const r = new ByteReader(input);
  const h = harness(r);
  seamcallStats.programs++;
  let last: Regs | null = null;
  let lastIn: Regs | null = null;
  let lastRax: U64 = { lo: 0, hi: 0 };
  const devices = h.m.platform.devices ?? [];
  for (let step = 0; step < MAX_PROGRAM_CALLS && !r.done; step++) {
    const op = r.u8();
    let regs: Regs;
    if (op >= 240 && last !== null) {
      regs = last;
      regs.set(REG.RAX, lastRax);
    } else if (op >= 200 && op < 204) {
      // Every dirty line is evicted now: stale lines really reach memory (03-module.md 3.5).
      h.m.cache.evictNow();
      continue;
    } else if (op >= 220 && devices.length > 0) {
      // The host answers the module's SPDM request through a device; 230.. then re-issues the last call.
      const device = devices[op % devices.length]!;
      forwardToDevice(h.m.kernel, { device, requestPage: h.msg[0]!, responsePage: h.msg[1]! });
      if (op < 230 || lastIn === null) continue;
      // Re-issued with the original inputs, as a host must after TDX_SPDM_REQUEST (RCX came back
      // holding the request length).
      regs = lastIn.clone();
    } else {
      regs = new Regs();
      const rax: U64 =
        op < 180
          ? leafRax(LEAF[FUZZ_LEAVES[op % FUZZ_LEAVES.length]!])
          : op < 200
            ? leafRax(LEAF[FUZZ_LEAVES[op % FUZZ_LEAVES.length]!], 1 + (op % 3))
            : r.u64();
      regs.set(REG.RAX, rax);
      for (const reg of FUZZ_REGS) regs.set(reg, regValue(h, r));
    }
    lastRax = regs.get(REG.RAX);
    lastIn = regs.clone();
    const regsIn = regs.w.slice();
    const t0 = now();
    h.m.module.seamcall(regs);
    const ms = now() - t0;
    seamcallStats.calls++;
    const st = regs.get(REG.RAX);
    const text = statusText(st);
    const key = `${leafName(lastRax.hi === 0 && lastRax.lo >>> 16 === 0 ? lastRax.lo : -1) ?? "other"} ${text}`;
    seamcallStats.statuses.set(key, (seamcallStats.statuses.get(key) ?? 0) + 1);
    if (ms > HANG_MS)
      throw new FuzzBug(`SEAMCALL ${u64ToHex(lastRax.lo, lastRax.hi)} took ${Math.round(ms)} ms (hang)`);
    if (st.hi >>> 31 === 0) {
      seamcallStats.success++;
      // Leaves that create an object return its id in RCX; the host keeps it for later calls.
      if (CREATORS.has(lastRax.lo) && lastRax.hi === 0) h.ids.push(regs.get(REG.RCX));
    }
    last = regs;
    // The host learns what it handed over from the call's own operands and status (no RDMD).
    recordRawCall(h.m.kernel, regsIn, regs, { iommuEntries: h.m.platform.metadata.IOMMU_MT_PAGE_COUNT + 2 });
    if (h.m.module.pageCounts.claimed > 0) {
      const c = checkConservation(h.m);
      if (!c.ok) throw new FuzzBug(`conservation after call ${step} (${text}): ${c.violations[0]}`);
    }
  }
  const c = checkConservation(h.m);
  if (!c.ok) throw new FuzzBug(`conservation at the end: ${c.violations[0]}`);
  return h.m;
}

/** The SEAMCALL entry as a fuzz target. */
export const seamcallTarget: FuzzTarget = {
  name: "seamcall",
  typedErrorsAllowed: false,
  run(input) {
    seamcallProgram(input);
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
