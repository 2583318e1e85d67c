/**
 * The cache model of docs/spec/03-module.md 3.5: which KeyIDs hold dirty lines of each 4 KiB page, and the three
 * hazards that make the flushes necessary.
 *
 * Cache lines are tagged with the KeyID they were written through and lines of different KeyIDs are not
 * kept coherent. The model works per page (not per 64-byte line): a page is dirty under a KeyID or not.
 * Page bytes in {@link PhysMem} are what the current owner sees; when a page changes hands while dirty
 * under the other side's KeyID, those lines become *stale* and the model keeps their bytes (a snapshot,
 * or nothing for an all-zero page), so {@link CacheModel.evictNow} can really write them back over the
 * page and show the damage.
 *
 * Hazards (structured events naming the page, the KeyIDs and the call that caused them):
 * 1. `dirty-host-lines-on-private`: a page becomes module-private with dirty KeyID-0 lines while the
 *    module says CLFLUSH_BEFORE_ALLOC (a later eviction would overwrite private data);
 * 2. `private-lines-on-host-page`: a page that left the module goes back to the host allocator, or is
 *    read or written by the host, while lines dirty under a private KeyID remain;
 * 3. `host-access-to-private`: any host access to a page the PAMT says is private;
 * 4. `private-lines-left-at-end` ({@link CacheModel.sweep}, at the end of a run): a page the module no
 *    longer owns still has lines dirty under a private KeyID, even if the host never touched it again (a
 *    missing write-back that only a later eviction would show), named with the call that left them.
 *
 * The cache is hardware: it asks the module's PAMT only through the `isPrivate` probe the machine wires
 * in (and `isPrivateRun`, the same question for a run of pages), which is the model's vantage point, not something a host could do.
 */
import { TdxpaError } from "../common/errors.js";
import { PAGE_SIZE } from "../common/u64.js";
import { HAZARD, type Hazard, HazardLog } from "./cache-hazards.js";
import type { PageSnapshot, PhysMem } from "./physmem.js";

export type { Hazard, HazardKind } from "./cache-hazards.js";

/** The "ciphertext" a private line leaves in memory: a fixed pattern per KeyID, never all zero. */
function scramble(keyId: number, i: number): number {
  return (((i * 0x9e37 + keyId * 0x7f4a) >>> 3) | 0x01) & 0xff;
}

/** Per KeyID, the ciphertext pattern of a whole page as 1024 words (built once per KeyID). */
const SCRAMBLE_WORDS = new Map<number, Uint32Array>();

/** {@link scramble} of every byte of a page, as little-endian words, so write-backs XOR words, not bytes. */
function scramblePattern(keyId: number): Uint32Array {
  let w = SCRAMBLE_WORDS.get(keyId);
  if (w === undefined) {
    const b = new Uint8Array(PAGE_SIZE);
    for (let i = 0; i < b.length; i++) b[i] = scramble(keyId, i);
    w = new Uint32Array(b.buffer);
    SCRAMBLE_WORDS.set(keyId, w);
  }
  return w;
}

/** Pages per bookkeeping section. */
const SECTION = 1024;

/** Slot 0's bit in a page's dirty byte: KeyID 0, the host's. */
const KEYID0_SLOT = 1;

/** What {@link CacheModel.dirtyKeyIds} answers for a clean page: one frozen array, not one per call. */
const NO_KEYIDS: readonly number[] = Object.freeze([]);

/** `pfn % SECTION` for a PFN ≥ 0 without the float `%` (fmod on a double PFN, about 10 ns, measured). */
function offOf(pfn: number): number {
  return pfn - Math.floor(pfn / 1024) * 1024;
}
/** KeyIDs the model can tell apart per page (one bit each in a byte). */
const MAX_SLOTS = 8;

/** Counters for reports and benchmarks. */
export interface CacheStats {
  clflushes: number;
  pageWbinvds: number;
  wholeCacheWbinvds: number;
  evictions: number;
  /** Pages whose bytes an eviction overwrote with stale data. */
  damagedPages: number;
}

/** The per-page cache state and hazard detector. */
export class CacheModel {
  /**
   * Per page, a byte whose bit s says "dirty under the KeyID in slot s"; kept in lazily created
   * sections of 1024 pages so a million-page pool costs 1 KiB per 1024 pages, flat as it grows.
   */
  private readonly dirty = new Map<number, Uint8Array>();
  private lastKey = -1;
  private lastSec: Uint8Array | undefined;
  /** Slot → KeyID, and back. Slot 0 is KeyID 0 (the host's). */
  private readonly slotKeyId: number[] = [0];
  private readonly keyIdSlot = new Map<number, number>([[0, 0]]);
  private dirtyCount = 0;
  /**
   * Per page, a byte whose bit s says "the lines of the KeyID in slot s are stale", in sections like
   * {@link dirty}; and per slot, the non-zero lines a stale page would write back (a stale page with no
   * entry reads as all zeros, the common case: a map per stale page, as before, was most of the garbage
   * of a 1,048,576-page run with host-used memory).
   */
  private readonly staleBits = new Map<number, Uint8Array>();
  private staleKey = -1;
  private staleSec: Uint8Array | undefined;
  private readonly staleLines: Map<number, PageSnapshot>[] = [];
  /** The operation that left each page's private lines behind (the page left the module), by page. */
  private readonly leftBy = new Map<number, string>();
  private readonly log = new HazardLog(this.slotKeyId);
  /** Private pages whose integrity a stale KeyID-0 write-back broke. */
  readonly poisoned = new Set<number>();
  readonly stats: CacheStats = {
    clflushes: 0,
    pageWbinvds: 0,
    wholeCacheWbinvds: 0,
    evictions: 0,
    damagedPages: 0,
  };
  /** What the current operation is, for hazard causes; the machine and the host set it. */
  cause = "host";
  /** Probe into the module's PAMT: true when the page is private (set by the machine wiring). */
  isPrivate: (pfn: number) => boolean = () => false;
  /**
   * The same probe for a run of pages: true when all `n` pages from `pfn` are private; false when one may
   * not be (the sweep then asks {@link isPrivate} page by page). Set by the machine wiring; the default
   * knows nothing.
   */
  isPrivateRun: (pfn: number, n: number) => boolean = () => false;
  /** Observer of each hazard as it happens (traces). */
  onHazard: ((h: Hazard) => void) | null = null;

  constructor(
    private readonly mem: PhysMem,
    /** Whether the module advertises CLFLUSH_BEFORE_ALLOC. */
    readonly clflushBeforeAlloc: boolean,
  ) {}

  /**
   * Every hazard found, in order (the objects are built on the first read after a find). Always the same
   * array, but it grows only when read through this getter: read it again rather than keep it.
   */
  get hazards(): Hazard[] {
    return this.log.all();
  }

  /** How many hazards were found: {@link hazards}`.length` without building them. */
  get hazardCount(): number {
    return this.log.count;
  }

  /** Records a hazard: `wording` one of {@link HAZARD}, `slots` the KeyID slots involved (bit s: slot s). */
  private hazard(wording: number, pfn: number, slots: number): void {
    this.log.add(wording, pfn, slots, this.cause);
    if (this.onHazard !== null) this.onHazard(this.log.last());
  }

  /** The stale-bits section of `pfn` (created when `create`). */
  private staleOf(pfn: number, create: boolean): Uint8Array | undefined {
    const key = Math.floor(pfn / SECTION);
    if (key === this.staleKey) return this.staleSec;
    let sec = this.staleBits.get(key);
    if (sec === undefined) {
      if (!create) return undefined;
      sec = new Uint8Array(SECTION);
      this.staleBits.set(key, sec);
    }
    this.staleKey = key;
    this.staleSec = sec;
    return sec;
  }

  private sec(pfn: number, create: boolean): Uint8Array | undefined {
    const key = Math.floor(pfn / SECTION);
    if (key === this.lastKey) return this.lastSec;
    let sec = this.dirty.get(key);
    if (sec === undefined) {
      if (!create) return undefined;
      sec = new Uint8Array(SECTION);
      this.dirty.set(key, sec);
    }
    this.lastKey = key;
    this.lastSec = sec;
    return sec;
  }

  private slotOf(keyId: number): number {
    let s = this.keyIdSlot.get(keyId);
    if (s === undefined) {
      s = this.slotKeyId.length;
      if (s >= MAX_SLOTS)
        throw new TdxpaError(
          "no-memory",
          `cache model: KeyID ${keyId} is the ${s + 1}th KeyID used; the model tracks at most ${MAX_SLOTS}`,
        );
      this.slotKeyId.push(keyId);
      this.keyIdSlot.set(keyId, s);
    }
    return s;
  }

  /**
   * Bit s set: `pfn` has dirty lines of the KeyID in slot s (slot 0 is KeyID 0, so a value above 1 means
   * lines of a private KeyID). No array is built: the per-page host and module paths test this first
   * and build the KeyID list only for a page they report.
   */
  private dirtyBits(pfn: number): number {
    return this.sec(pfn, false)?.[offOf(pfn)] ?? 0;
  }

  /** KeyIDs with dirty lines on `pfn` (empty when clean). */
  dirtyKeyIds(pfn: number): readonly number[] {
    const bits = this.dirtyBits(pfn);
    if (bits === 0) return NO_KEYIDS;
    const out: number[] = [];
    for (let s = 0; s < this.slotKeyId.length; s++) if ((bits >>> s) & 1) out.push(this.slotKeyId[s]!);
    return out;
  }

  /** Number of pages with any dirty line. */
  get dirtyPages(): number {
    return this.dirtyCount;
  }

  private markDirty(pfn: number, keyId: number): void {
    const sec = this.sec(pfn, true)!;
    const i = offOf(pfn);
    const was = sec[i]!;
    if (was === 0) this.dirtyCount++;
    sec[i] = was | (1 << this.slotOf(keyId));
  }

  /**
   * Drops `pfn`'s lines of `keyId`, writing back what they hold. `how` says who wrote them back: a
   * sanctioned flush (CLFLUSH, PAGE.WBINVD, done before the page changes hands) or an uncontrolled
   * eviction (what the flushes exist to prevent).
   */
  private drop(pfn: number, keyId: number, how: "flush" | "evict"): void {
    const sec = this.sec(pfn, false);
    const slot = this.keyIdSlot.get(keyId);
    if (sec === undefined || slot === undefined) return;
    const i = offOf(pfn);
    const bits = sec[i]!;
    if (((bits >>> slot) & 1) === 0) return;
    sec[i] = bits & ~(1 << slot);
    if (sec[i] === 0) this.dirtyCount--;
    const st = this.staleOf(pfn, false);
    if (st !== undefined && ((st[i]! >>> slot) & 1) !== 0) {
      st[i] = st[i]! & ~(1 << slot);
      const lines = this.staleLines[slot];
      const bytes = lines?.get(pfn) ?? null;
      if (bytes !== null) lines!.delete(pfn);
      this.writeStale(pfn, keyId, bytes, how);
    }
  }

  /**
   * A stale line reaches memory. Memory encryption makes an eviction damage whatever the bytes: stale
   * KeyID-0 (plaintext) lines over a private page break its integrity (the page is *poisoned*: the
   * module's next use of it fails), and stale private lines over a host page leave ciphertext the host
   * reads as garbage. The page's bytes change accordingly, so the damage shows in its contents. A
   * sanctioned flush of a page between owners writes the same bytes but damages nothing (ledger
   * `stale-writeback-damage`), except plaintext flushed over a page that is already private.
   */
  private writeStale(pfn: number, keyId: number, bytes: PageSnapshot | null, how: "flush" | "evict"): void {
    const overPrivate = keyId === 0 && this.isPrivate(pfn);
    if (how === "evict" || overPrivate) this.stats.damagedPages++;
    if (keyId === 0) {
      // Plaintext lines land as they are: only the kept (non-zero) lines are written.
      this.mem.restore(pfn, bytes);
      if (overPrivate) this.poisoned.add(pfn);
    } else {
      // Ciphertext: every byte is the kept byte XOR the KeyID's pattern, done a word at a time.
      this.mem.restore(pfn, bytes, scramblePattern(keyId));
    }
  }

  /** Dirty lines of `keyId` on `pfn` become stale: keep the bytes they hold now. */
  private makeStale(pfn: number, keyId: number): void {
    const slot = this.keyIdSlot.get(keyId);
    if (slot === undefined || ((this.dirtyBits(pfn) >>> slot) & 1) === 0) return;
    const st = this.staleOf(pfn, true)!;
    const i = offOf(pfn);
    if (((st[i]! >>> slot) & 1) !== 0) return;
    st[i] = st[i]! | (1 << slot);
    // The non-zero lines only, tested a word at a time (nothing kept for a page that reads as zeros).
    const snap = this.mem.snapshot(pfn);
    if (snap === null) return;
    let lines = this.staleLines[slot];
    if (lines === undefined) {
      lines = new Map();
      this.staleLines[slot] = lines;
    }
    lines.set(pfn, snap);
  }

  // ---- host side (KeyID 0) ------------------------------------------------------------------------

  /** The host reads (`write` false) or writes page `pfn` through KeyID 0. Checks hazards 2 and 3. */
  hostAccess(pfn: number, write: boolean): void {
    if (this.isPrivate(pfn)) {
      this.hazard(write ? HAZARD.HOST_WROTE_PRIVATE : HAZARD.HOST_READ_PRIVATE, pfn, KEYID0_SLOT);
    } else {
      // Slot 0 is KeyID 0: the other bits are lines of private KeyIDs.
      const priv = this.dirtyBits(pfn) & ~KEYID0_SLOT;
      if (priv !== 0) {
        this.hazard(write ? HAZARD.HOST_WROTE_PRIVATE_LINES : HAZARD.HOST_READ_PRIVATE_LINES, pfn, priv);
      }
    }
    if (write) this.markDirty(pfn, 0);
  }

  /** CLFLUSH of every line of `pfn` (KeyID 0): writes back and drops the host's dirty lines. */
  clflushPage(pfn: number): void {
    this.stats.clflushes++;
    this.drop(pfn, 0, "flush");
  }

  /** The host allocator takes `pfn` back (a free). Checks hazard 2. */
  hostFree(pfn: number): void {
    const priv = this.dirtyBits(pfn) & ~KEYID0_SLOT;
    if (priv !== 0) {
      this.hazard(HAZARD.FREED_WITH_PRIVATE_LINES, pfn, priv);
    }
  }

  // ---- module side --------------------------------------------------------------------------------

  /** The module writes `pfn` through `keyId` (its global KeyID for control pages, 0 for shared pages). */
  moduleWrite(pfn: number, keyId: number): void {
    this.markDirty(pfn, keyId);
  }

  /** Page `pfn` becomes module-private. Checks hazard 1; host lines left behind become stale. */
  becomePrivate(pfn: number): void {
    if ((this.dirtyBits(pfn) & 1) === 0) return;
    if (this.clflushBeforeAlloc) {
      this.hazard(HAZARD.PRIVATE_WITH_HOST_LINES, pfn, KEYID0_SLOT);
      this.makeStale(pfn, 0);
    } else {
      // The module does not ask for the flush: it takes care of host lines itself (model assumption).
      this.drop(pfn, 0, "flush");
    }
  }

  /** Page `pfn` leaves the module (back to PT_NDA): private lines left behind become stale. */
  leavePrivate(pfn: number): void {
    for (const k of this.dirtyKeyIds(pfn)) {
      if (k === 0) continue;
      this.makeStale(pfn, k);
      this.leftBy.set(pfn, this.cause);
    }
  }

  /**
   * The end-of-run sweep: every page that is not private (per the PAMT probe) but still holds lines
   * dirty under a private KeyID is a hazard `private-lines-left-at-end`, named with its KeyIDs and the
   * call that released the page. Pages for which `exempt` is true (the host stranded them: never reused)
   * are skipped. Returns the hazards it added.
   */
  sweep(exempt: (pfn: number) => boolean = () => false): Hazard[] {
    const found: Hazard[] = [];
    const saved = this.cause;
    for (const [key, sec] of this.dirty) {
      for (let i = 0; i < SECTION; i++) {
        // Slot 0 is KeyID 0: only the other bits are private lines. No array per dirty page (a
        // 1,048,576-page pool left dirty under the module's KeyID, all still private, is the common case).
        if ((sec[i]! & ~1) === 0) continue;
        // The run of pages with private lines from here: one probe when the module owns all of them,
        // else page by page.
        let j = i + 1;
        while (j < SECTION && (sec[j]! & ~1) !== 0) j++;
        if (!this.isPrivateRun(key * SECTION + i, j - i))
          for (let q = i; q < j; q++) this.sweepPage(key * SECTION + q, exempt, found);
        i = j - 1;
      }
    }
    this.cause = saved;
    return found;
  }

  /** The sweep of one page with private lines: a hazard when it is neither private nor exempt. */
  private sweepPage(pfn: number, exempt: (pfn: number) => boolean, found: Hazard[]): void {
    if (this.isPrivate(pfn) || exempt(pfn)) return;
    this.cause = this.leftBy.get(pfn) ?? "unknown";
    this.hazard(HAZARD.LEFT_AT_END, pfn, this.dirtyBits(pfn) & ~KEYID0_SLOT);
    found.push(this.log.last());
  }

  /** TDH.PHYMEM.PAGE.WBINVD: writes back and drops `pfn`'s lines of `keyId`. */
  pageWbinvd(pfn: number, keyId: number): void {
    this.stats.pageWbinvds++;
    this.drop(pfn, keyId, "flush");
  }

  /** A whole-cache write-back (WBINVD on every package): every dirty line goes to memory. */
  wbinvdAll(): void {
    this.stats.wholeCacheWbinvds++;
    this.evictNow();
  }

  /**
   * Evicts every dirty line now: stale lines really write their bytes over the page (the damage a
   * missing flush causes shows in page contents). Returns the number of pages damaged.
   */
  evictNow(): number {
    const before = this.stats.damagedPages;
    for (const [key, sec] of this.dirty) {
      for (let i = 0; i < SECTION; i++) {
        if (sec[i] === 0) continue;
        const pfn = key * SECTION + i;
        for (const k of this.dirtyKeyIds(pfn)) this.drop(pfn, k, "evict");
        this.stats.evictions++;
      }
    }
    return this.stats.damagedPages - before;
  }
}
