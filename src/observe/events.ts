/**
 * The model's event stream: every SEAMCALL (decoded), PAMT change, allocation and free, hazard, model
 * report and stranding, as plain objects carrying numbers. Traces (JSON Lines, Chrome Trace Event
 * format) and reports are built from it; the text a trace line holds is made only where it is printed
 * ({@link eventJson}). A call's root page is read from simulated memory only when a consumer asks
 * ({@link RootPage}). {@link attachEvents} wires a listener into a machine; with none attached the model
 * pays nothing for events.
 */

import { TdxpaError } from "../common/errors.js";
import { FORMATS, type ListFormat } from "../common/format-table.js";
import { regName } from "../common/status.js";
import { hpaToPfn, PAGE_SIZE, type U64 } from "../common/u64.js";
import { setKapiListener } from "../host/kapi-trace.js";
import type { Hazard } from "../hw/cache.js";
import type { PhysMem } from "../hw/physmem.js";
import type { Platform } from "../hw/platform.js";
import type { Machine } from "../machine.js";
import type { ModelReport } from "../module/emulator.js";
import { PT, ptName } from "../module/pamt.js";
import { type CallDescription, describeCall } from "./describe-call.js";
import { LIST_OPERANDS, type RootView, readRootView } from "./root-pages.js";

/** Most root-page entries an event reads (a root page holds 512). */
const ROOT_LIMIT = 512;

/**
 * A call's page list as its root page holds it after the call, read from memory on first request and
 * kept. Ask while the event is being delivered (inside the sink): memory moves on after that, so a
 * handle nobody asked in time throws a `bad-state` {@link TdxpaError} rather than answer from later memory.
 * `JSON.stringify` of an event writes its {@link RootView} (asking for it: same rule).
 */
export interface RootPage {
  /** Decoded for people (`0x…` text), as traces and `tdxpa inspect` show it; null when the operand does not decode. */
  view(): RootView | null;
  /** The same list as numbers (what the report keeps); null exactly when {@link view} is null. */
  raw(): RootRaw | null;
}

/** A call's page list as numbers: {@link RootView} without the text. */
export interface RootRaw {
  readonly register: string;
  readonly format: ListFormat;
  /** The root page's HPA, or null when the list is a singleton HPA_ARRAY_T (no root page). */
  readonly rootHpa: number | null;
  readonly count: number;
  /** The first min(count, 512) entries as they are in memory, halves `[lo0, hi0, lo1, hi1, …]`. */
  readonly entries: Uint32Array;
}

/** The error a {@link RootPage} throws when asked after its event was delivered (a `bad-state` TdxpaError). */
function expired(seq: number): TdxpaError {
  return new TdxpaError(
    "bad-state",
    `root page of SEAMCALL #${seq}: read after its event was delivered (ask inside the sink, or keep eventJson(e))`,
  );
}

/** A SEAMCALL event. `root` is present when the leaf takes a page list (and roots are on). */
export type SeamcallEvent = {
  readonly type: "seamcall";
  readonly t: number;
  readonly root?: RootPage;
  /** Logical CPU, present only for calls on a CPU other than 0. */
  readonly cpu?: number;
  /** The status as RAX held it (`status` is its text). Not in the trace line. */
  readonly statusCode: U64;
} & CallDescription;

/** A PAMT change of one page: `from` and `to` are PAMT page types ({@link PT}; {@link ptName} names them). */
export interface PageEvent {
  readonly type: "page";
  readonly t: number;
  readonly pfn: number;
  readonly from: number;
  readonly to: number;
  readonly owner: number;
}

/** One event. `t` is the model's virtual time: units of work done so far (a SEAMCALL's units advance it). */
export type ModelEvent =
  | SeamcallEvent
  | PageEvent
  | {
      readonly type: "alloc";
      readonly t: number;
      readonly pfn: number;
      readonly pages: number;
      readonly tag: string;
    }
  | { readonly type: "free"; readonly t: number; readonly pfn: number }
  | ({ readonly type: "hazard"; readonly t: number } & Hazard)
  | ({ readonly type: "report"; readonly t: number } & ModelReport)
  | { readonly type: "phase"; readonly t: number; readonly name: string; readonly edge: "begin" | "end" }
  /** A host kAPI function (`tdh_ext_mem_add`, …) began or ended; its SEAMCALLs fall in between. */
  | { readonly type: "kapi"; readonly t: number; readonly name: string; readonly edge: "begin" | "end" };

/**
 * A model event as one JSON Lines trace line holds it (what `tdxpa diff` and `tdxpa inspect` read back):
 * PAMT types by name, the root page decoded.
 */
export type EventJson =
  | Exclude<ModelEvent, SeamcallEvent | PageEvent>
  | (Omit<SeamcallEvent, "root" | "statusCode"> & { readonly root?: RootView })
  | (Omit<PageEvent, "from" | "to"> & { readonly from: string; readonly to: string });

/** A listener of model events. */
export type EventSink = (e: ModelEvent) => void;

/** Detaches a listener. */
export type Detach = () => void;

/**
 * Whether PAMT type `pt` means the page is the module's (anything but PT_NDA and PT_RSVD).
 * @example isModuleType(PT.EXT_POOL) // true
 */
export function isModuleType(pt: number): boolean {
  return pt !== PT.NDA && pt !== PT.RSVD;
}

/**
 * The trace-line form of `e` ({@link EventJson}) as JSON text, without the newline: the same bytes the
 * JSON Lines trace has always held (field order included).
 * @example eventJson({ type: "free", t: 3, pfn: 7 }) // '{"type":"free","t":3,"pfn":7}'
 */
export function eventJson(e: ModelEvent): string {
  // The two per-page kinds (a million lines on the big pool) are written directly: numbers print the
  // same in a template as in JSON.stringify, and PAMT type names are quoted once.
  if (e.type === "page")
    return `{"type":"page","t":${e.t},"pfn":${e.pfn},"from":${quotedPt(e.from)},"to":${quotedPt(e.to)},"owner":${e.owner}}`;
  if (e.type === "free") return `{"type":"free","t":${e.t},"pfn":${e.pfn}}`;
  return JSON.stringify(eventToJson(e));
}

const QUOTED_PT = new Map<number, string>();

/** `"PT_EXT_POOL"`: the JSON string of PAMT type `pt`'s name. */
function quotedPt(pt: number): string {
  let q = QUOTED_PT.get(pt);
  if (q === undefined) {
    q = JSON.stringify(ptName(pt));
    QUOTED_PT.set(pt, q);
  }
  return q;
}

/** The trace-line form of `e` as an object (see {@link eventJson}). */
export function eventToJson(e: ModelEvent): EventJson {
  if (e.type === "page")
    return { type: "page", t: e.t, pfn: e.pfn, from: ptName(e.from), to: ptName(e.to), owner: e.owner };
  if (e.type !== "seamcall") return e;
  const { root, cpu, statusCode: _, ...rest } = e;
  const view = root?.view() ?? null;
  const withRoot = view === null ? rest : { ...rest, root: view };
  return cpu === undefined ? withRoot : { ...withRoot, cpu };
}

/**
 * The page list of a call with input registers `regsIn`, as numbers; null exactly when
 * {@link readRootView} is null (the leaf takes no list, or the operand does not decode). Reads the same
 * memory the same way: a root page never written reads as zeros, one outside every memory range as all
 * ones.
 */
export function readRootRaw(
  mem: PhysMem,
  platform: Platform,
  leaf: number,
  regsIn: Uint32Array,
  limit = ROOT_LIMIT,
): RootRaw | null {
  const spec = LIST_OPERANDS[leaf];
  if (spec === undefined) return null;
  const lo = regsIn[2 * spec.reg]!;
  const hi = regsIn[2 * spec.reg + 1]!;
  const register = regName(spec.reg)!;
  // The format table decides what the operand names, as for readRootView (observe/root-pages.ts).
  const ref = FORMATS[spec.format].list.root(lo, hi);
  if (ref === null) return null;
  if (ref.singleton) {
    // The one entry is the operand's page address (bits 51:12).
    const entries = Uint32Array.of(lo & 0xffff_f000, hi & 0x000f_ffff);
    return { register, format: spec.format, rootHpa: null, count: 1, entries };
  }
  const rootHpa = ref.hpa;
  const count = ref.count ?? platform.metadata.IOMMU_MT_PAGE_COUNT + 2;
  const pfn = hpaToPfn(rootHpa % 2 ** platform.keyIds.shift);
  const n = Math.min(count, limit);
  const entries = new Uint32Array(2 * n);
  const page = mem.contains(pfn) ? mem.peek(pfn) : undefined;
  if (page !== undefined)
    entries.set(new Uint32Array(page.buffer, page.byteOffset, PAGE_SIZE / 4).subarray(0, 2 * n));
  else if (!mem.contains(pfn)) entries.fill(0xffff_ffff);
  return { register, format: spec.format, rootHpa, count, entries };
}

/**
 * Attaches `sink` to every event source of `m`. Options turn off the high-volume kinds (page changes
 * and frees are one event per 4 KiB page; `kapi` spans are one pair per host kAPI call) and root pages.
 * Returns a function that detaches it and a clock.
 */
export function attachEvents(
  m: Machine,
  sink: EventSink,
  opts: { pages?: boolean; frees?: boolean; roots?: boolean; kapi?: boolean } = {},
): { detach: Detach; now: () => number } {
  let t = 0;
  const shift = m.platform.keyIds.shift;
  const roots = opts.roots !== false;
  m.module.onCall = (r) => {
    const cpu = r.cpu === 0 ? {} : { cpu: r.cpu };
    const desc = describeCall(r, shift);
    if (!roots || LIST_OPERANDS[r.leaf] === undefined)
      sink({ type: "seamcall", t, ...desc, ...cpu, statusCode: r.status });
    else {
      const root = new LazyRoot(m, r.seq, r.leaf, r.regsIn);
      try {
        sink({ type: "seamcall", t, ...desc, root, ...cpu, statusCode: r.status });
      } finally {
        root.live = false;
      }
    }
    t += Math.max(1, r.units);
  };
  if (opts.pages !== false) {
    m.module.pamt.onChange = (pfn, from, to, owner) => sink({ type: "page", t, pfn, from, to, owner });
  }
  const hooks = m.alloc.hooks;
  m.alloc.hooks = {
    ...hooks,
    onAlloc: (pfn, pages, tag) => {
      hooks.onAlloc?.(pfn, pages, tag);
      sink({ type: "alloc", t, pfn, pages, tag });
    },
    ...(opts.frees === false
      ? {}
      : {
          onFree: (pfn: number) => {
            hooks.onFree?.(pfn);
            sink({ type: "free", t, pfn });
          },
        }),
  };
  m.cache.onHazard = (h) => sink({ type: "hazard", t, ...h });
  if (opts.kapi !== false) setKapiListener(m.kernel, (name, edge) => sink({ type: "kapi", t, name, edge }));
  m.module.onReport = (r) => sink({ type: "report", t, ...r });
  return {
    now: () => t,
    detach: () => {
      m.module.onCall = null;
      m.module.pamt.onChange = null;
      m.alloc.hooks = hooks;
      m.cache.onHazard = null;
      m.module.onReport = null;
      setKapiListener(m.kernel, null);
    },
  };
}

/** A {@link RootPage} over the machine's memory, answering while `live` and from its memo after. */
class LazyRoot implements RootPage {
  /** Cleared when the event has been delivered. */
  live = true;
  // Private fields: not enumerable, so JSON.stringify sees only toJSON.
  #view: RootView | null | undefined;
  #raw: RootRaw | null | undefined;
  readonly #m: Machine;
  readonly #seq: number;
  readonly #leaf: number;
  readonly #regsIn: Uint32Array;

  constructor(m: Machine, seq: number, leaf: number, regsIn: Uint32Array) {
    this.#m = m;
    this.#seq = seq;
    this.#leaf = leaf;
    this.#regsIn = regsIn;
  }

  view(): RootView | null {
    if (this.#view === undefined) {
      if (!this.live) throw expired(this.#seq);
      this.#view = readRootView(this.#m.mem, this.#m.platform, this.#leaf, this.#regsIn, ROOT_LIMIT);
    }
    return this.#view;
  }

  raw(): RootRaw | null {
    if (this.#raw === undefined) {
      if (!this.live) throw expired(this.#seq);
      this.#raw = readRootRaw(this.#m.mem, this.#m.platform, this.#leaf, this.#regsIn, ROOT_LIMIT);
    }
    return this.#raw;
  }

  /** What `JSON.stringify` writes for the handle: the decoded view (null when the operand does not decode). */
  toJSON(): RootView | null {
    return this.view();
  }
}
