/**
 * The SEAMCALL fuzz target: a program of raw SEAMCALLs read from the input, run against a fresh
 * emulated module, with the conservation check after every call and a hang limit (see `targets.ts` for
 * how verdicts are classified). Core code: no Node APIs.
 */
import type { ListFormat } from "../src/common/format-table.js";
import { encodeHpaArray, encodeHpaListInfo, encodeIommuMt } from "../src/common/formats.js";
import { leafRax, Regs } from "../src/common/seamcall.js";
import { LEAF, type LeafName, leafName, REG, statusText } from "../src/common/status.js";
import {
  hpaLo,
  hpaToPfn,
  hpaToU64,
  parseU64,
  pfnToHpa,
  type U64,
  U64_ONES,
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
import { ByteReader } from "./bytes.js";
import { FuzzBug, type FuzzTarget } from "./judge.js";

const ONES = U64_ONES;

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
