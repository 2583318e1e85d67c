/**
 * The module side: PAMT entry locks as TDX Module 1.5 has them (docs/spec/03-module.md 3.2). Every
 * PAMT entry (1 GiB, 2 MiB and 4 KiB level) carries a shared/exclusive lock with a host-priority bit.
 * A walk to a 4 KiB page takes the 1G and 2M entries shared and the 4K leaf with the lock the leaf
 * needs (exclusive to change the page, shared to read it: TDH.PHYMEM.PAGE.WBINVD and RDMD).
 *
 * Host priority: a host-side call (SEAMCALL) that fails to take a lock exclusively sets the entry's
 * host-priority bit and gets TDX_OPERAND_BUSY; while the bit is set, a guest-side requester (TDCALL)
 * gets TDX_OPERAND_BUSY_HOST_PRIORITY, so the host's retry wins; the host's next successful exclusive
 * take clears it. No modelled leaf is guest-side, so no SEAMCALL of the model returns the
 * host-priority status; the table returns it for a guest requester.
 *
 * Locks belong to a logical CPU (the call running on it) and every lock a call took is released before
 * its SEAMCALL returns ({@link PamtLocks.releaseAll}), also when the call is interrupted.
 *
 * Kept sparse: an entry exists only while held or while its host-priority bit is set, and few are at
 * any time (a call holds the walk to the page or block it is claiming), so each level is a small hash
 * table in typed arrays ({@link LevelLocks}), and each CPU's held locks a flat array. A Map per level,
 * with one object per lock, made a 1,048,576-page donation 30-40 % slower and 50 MB bigger (measured);
 * this layout allocates nothing per walk.
 */

import { rangeError } from "../common/errors.js";

/** How a lock is taken. */
export type LockMode = "shared" | "exclusive";

/** Who asks: a SEAMCALL (host) or a TDCALL (guest). */
export type Requester = "host" | "guest";

/** Outcome of an acquire. */
export type LockResult = "ok" | "busy" | "busy-host-priority";

/**
 * One lock as a number (no object per lock): bits 6:0 the exclusive holder's CPU + 1 (0: none), bit 7
 * the host-priority bit, bits 8 and up the shared count. 0 is a free lock with no priority bit.
 */
const EXCL_MASK = 0x7f;
const PRIO = 0x80;
const SHARED_ONE = 0x100;

/** Largest CPU number the encoding holds. */
export const MAX_LOCK_CPU = EXCL_MASK - 1;

/** 4 KiB pages per 2 MiB and per 1 GiB PAMT entry. */
const PAGES_2M = 512;
const PAGES_1G = 512 * 512;

/** PAMT levels, as indexes of {@link PamtLocks} level maps. */
const L4K = 0;
const L2M = 1;
const L1G = 2;

/**
 * Entries of one PAMT level that are held or carry the host-priority bit: an open-addressing hash table
 * (linear probing, deletion by backward shift, so no tombstones) of entry index → encoded state in two
 * typed arrays, grown when half full. A lookup is a multiply and a probe or two; nothing is allocated
 * per walk. It replaced a pair of plain arrays searched with `lastIndexOf` (two searches per take or
 * drop), which were about 20 % of a 12,800-page bring-up (measured; docs/PERFORMANCE.md, "Bring-up and compare").
 */
/** Slots of a level's table when its first entry is set (2^4: the `bits` a table starts with). */
const FIRST_SLOTS = 16;
/** The table of a level no entry was ever set on: never written (the first set makes a real one). */
const NO_KEYS = new Float64Array(0);
const NO_VALS = new Int32Array(0);

class LevelLocks {
  /**
   * Entry indexes (PFNs of up to 40 bits are exact in a float64); −1 marks an empty slot. Made when the
   * first entry is set (most machines of a design comparison never take a lock on one level or another:
   * two typed arrays per level saved, issue 15); until then the table has no slot.
   */
  private keys = NO_KEYS;
  private vals = NO_VALS;
  /** log2 of the capacity; the hash keeps the top `bits` bits of a 32-bit product. */
  private bits = 4;
  private size = 0;

  /** Entries held or carrying the host-priority bit (0: the level is idle). */
  get count(): number {
    return this.size;
  }

  /** Home slot of `key`: Fibonacci hashing of its low 32 bits xor its high bits. */
  private home(key: number): number {
    return Math.imul((key >>> 0) ^ Math.floor(key / 0x1_0000_0000), 0x9e3779b1) >>> (32 - this.bits);
  }

  /** The slot holding `key`, or the empty slot where it would go. */
  private slot(key: number): number {
    const keys = this.keys;
    const mask = keys.length - 1;
    let i = this.home(key);
    for (;;) {
      const k = keys[i]!;
      if (k === key || k === -1) return i;
      i = (i + 1) & mask;
    }
  }

  get(key: number): number {
    if (this.size === 0) return 0;
    const i = this.slot(key);
    return this.keys[i] === key ? this.vals[i]! : 0;
  }

  /** Sets the state of `key`; 0 (free, no priority bit) removes it. */
  set(key: number, v: number): void {
    if (this.keys.length === 0) {
      if (v === 0) return;
      this.keys = new Float64Array(FIRST_SLOTS).fill(-1);
      this.vals = new Int32Array(FIRST_SLOTS);
    }
    const i = this.slot(key);
    if (this.keys[i] === key) {
      if (v !== 0) this.vals[i] = v;
      else this.removeAt(i);
    } else if (v !== 0) {
      this.keys[i] = key;
      this.vals[i] = v;
      if (++this.size * 2 > this.keys.length) this.grow();
    }
  }

  /** Empties slot `i` and moves later entries of its probe run back, so every lookup still finds them. */
  private removeAt(i: number): void {
    const keys = this.keys;
    const vals = this.vals;
    const mask = keys.length - 1;
    keys[i] = -1;
    this.size--;
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const k = keys[j]!;
      if (k === -1) return;
      // The entry at j may move to the hole unless its home lies cyclically in (hole, j].
      const h = this.home(k);
      const stays = hole <= j ? h > hole && h <= j : h > hole || h <= j;
      if (stays) continue;
      keys[hole] = k;
      vals[hole] = vals[j]!;
      keys[j] = -1;
      hole = j;
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    this.bits++;
    this.keys = new Float64Array(oldKeys.length * 2).fill(-1);
    this.vals = new Int32Array(oldKeys.length * 2);
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k === -1) continue;
      const s = this.slot(k);
      this.keys[s] = k;
      this.vals[s] = oldVals[i]!;
    }
  }
}

/**
 * The PAMT lock table, created empty (no lock held).
 *
 * A walk taken while the whole table is idle (no entry held and no host-priority bit, on any level) is
 * kept as a pending walk: three numbers (CPU, PFN, leaf mode) instead of three hash-table writes, three
 * list pushes and, at the claim, a list search and three more writes. On an idle table the walk cannot
 * be refused (for either requester) and taking it changes only the entries it takes, so the table is
 * exactly the eager one with that walk added. Every other operation ({@link acquire} on a busy table,
 * {@link release} of another walk, {@link releaseAll} of another CPU, {@link heldBy}, {@link entry})
 * first takes the pending walk for real ({@link materialize}), so no caller can tell the two apart.
 * A leaf that locks one page, checks it and claims it (TDH.EXT.MEM.ADD, 12,800 times in a bring-up)
 * then touches the hash tables only when another logical CPU's call runs in between.
 */
export class PamtLocks {
  private readonly levels: readonly LevelLocks[] = [new LevelLocks(), new LevelLocks(), new LevelLocks()];
  /** Per CPU: the locks it holds as (level × 2 + exclusive, entry index) pairs, in acquire order. */
  private readonly held = new Map<number, number[]>();
  /** The pending walk's CPU (−1: none), PFN and leaf mode (true: exclusive). */
  private pendCpu = -1;
  private pendPfn = 0;
  private pendExcl = false;
  /** Acquire attempts refused (for reports and tests). */
  busyCount = 0;

  /** True when no entry of any level is held or carries the host-priority bit, and no walk is pending. */
  private idle(): boolean {
    const l = this.levels;
    return this.pendCpu < 0 && l[L4K]!.count === 0 && l[L2M]!.count === 0 && l[L1G]!.count === 0;
  }

  /** Takes the pending walk for real, as {@link acquire} would have on the idle table (it cannot be refused). */
  private materialize(): void {
    const cpu = this.pendCpu;
    if (cpu < 0) return;
    this.pendCpu = -1;
    const pfn = this.pendPfn;
    const list = this.heldList(cpu);
    this.take(list, cpu, L1G, Math.floor(pfn / PAGES_1G), false, "host");
    this.take(list, cpu, L2M, Math.floor(pfn / PAGES_2M), false, "host");
    this.take(list, cpu, L4K, pfn, this.pendExcl, "host");
  }

  private heldList(cpu: number): number[] {
    let list = this.held.get(cpu);
    if (list === undefined) {
      list = [];
      this.held.set(cpu, list);
    }
    return list;
  }

  private take(
    list: number[],
    cpu: number,
    level: number,
    index: number,
    excl: boolean,
    who: Requester,
  ): LockResult {
    const map = this.levels[level]!;
    const s = map.get(index);
    if (who === "guest" && (s & PRIO) !== 0) return "busy-host-priority";
    const free = excl ? s === 0 || s === PRIO : (s & EXCL_MASK) === 0;
    if (!free) {
      if (who === "host" && excl) map.set(index, s | PRIO);
      return "busy";
    }
    if (excl) map.set(index, who === "host" ? cpu + 1 : (s & PRIO) | (cpu + 1));
    else map.set(index, s + SHARED_ONE);
    list.push(level * 2 + (excl ? 1 : 0), index);
    return "ok";
  }

  private drop(code: number, index: number): void {
    const map = this.levels[code >> 1]!;
    const s = map.get(index);
    if (s === 0) return;
    map.set(index, (code & 1) === 1 ? s & ~EXCL_MASK : s - SHARED_ONE);
  }

  /**
   * The PAMT walk to 4 KiB page `pfn` on `cpu`: the 1G and 2M entries shared, the 4K leaf in `mode`.
   * On any refusal nothing of this walk stays held and the refusal is returned.
   */
  acquire(cpu: number, pfn: number, mode: LockMode, who: Requester = "host"): LockResult {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu > MAX_LOCK_CPU)
      throw rangeError("cpu", cpu, `0..${MAX_LOCK_CPU}`);
    if (this.idle()) {
      this.pendCpu = cpu;
      this.pendPfn = pfn;
      this.pendExcl = mode === "exclusive";
      return "ok";
    }
    this.materialize();
    const list = this.heldList(cpu);
    const before = list.length;
    let r = this.take(list, cpu, L1G, Math.floor(pfn / PAGES_1G), false, who);
    if (r === "ok") r = this.take(list, cpu, L2M, Math.floor(pfn / PAGES_2M), false, who);
    if (r === "ok") r = this.take(list, cpu, L4K, pfn, mode === "exclusive", who);
    if (r !== "ok") {
      this.busyCount++;
      while (list.length > before) {
        const index = list.pop()!;
        this.drop(list.pop()!, index);
      }
    }
    return r;
  }

  /** Releases the walk to `pfn` that `cpu` took last (the leaf, then its 2M and 1G entries). */
  release(cpu: number, pfn: number): void {
    if (this.pendCpu === cpu && this.pendPfn === pfn) {
      this.pendCpu = -1;
      return;
    }
    this.materialize();
    const list = this.held.get(cpu);
    if (list === undefined) return;
    // A walk is three pairs in a row: 1G, 2M, then the 4K leaf (code 0 or 1) holding `pfn`.
    for (let i = list.length - 2; i >= 4; i -= 2) {
      if (list[i]! >> 1 !== L4K || list[i + 1] !== pfn) continue;
      for (let j = i - 4; j <= i; j += 2) this.drop(list[j]!, list[j + 1]!);
      // Close the gap of six in place, then pop: splice allocates the removed part and setting
      // `length` is a slow path (5 % of a bring-up, measured); the walk is usually the last one.
      for (let j = i + 2; j < list.length; j++) list[j - 6] = list[j]!;
      for (let j = 0; j < 6; j++) list.pop();
      return;
    }
  }

  /** Releases every lock `cpu` holds (what a SEAMCALL does before it returns). Returns how many. */
  releaseAll(cpu: number): number {
    // The pending walk is the only one held anywhere (the table was idle when it was taken).
    if (this.pendCpu === cpu) {
      this.pendCpu = -1;
      return 3;
    }
    this.materialize();
    const list = this.held.get(cpu);
    if (list === undefined || list.length === 0) return 0;
    const n = list.length / 2;
    while (list.length > 0) {
      const index = list.pop()!;
      this.drop(list.pop()!, index);
    }
    return n;
  }

  /** Locks `cpu` holds now. */
  heldBy(cpu: number): number {
    this.materialize();
    return (this.held.get(cpu)?.length ?? 0) / 2;
  }

  /** The 4 KiB entry of `pfn`: its exclusive holder (−1 none), shared count and host-priority bit. */
  entry(pfn: number): { exclusive: number; shared: number; hostPriority: boolean } {
    this.materialize();
    const s = this.levels[L4K]!.get(pfn);
    return { exclusive: (s & EXCL_MASK) - 1, shared: s >>> 8, hostPriority: (s & PRIO) !== 0 };
  }
}
