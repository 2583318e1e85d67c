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
 */

/** How a lock is taken. */
export type LockMode = "shared" | "exclusive";

/** Who asks: a SEAMCALL (host) or a TDCALL (guest). */
export type Requester = "host" | "guest";

/** Outcome of an acquire. */
export type LockResult = "ok" | "busy" | "busy-host-priority";

interface LockState {
  /** CPU holding it exclusively, or −1. */
  exclusive: number;
  /** Shared holders (one count per acquire). */
  shared: number;
  hostPriority: boolean;
}

/** 4 KiB pages per 2 MiB and per 1 GiB PAMT entry. */
const PAGES_2M = 512;
const PAGES_1G = 512 * 512;

/** The PAMT lock table, created empty (no lock held) and kept sparse. */
export class PamtLocks {
  private readonly entries = new Map<string, LockState>();
  /** Per CPU: the locks it holds, in acquire order, to release in reverse. */
  private readonly held = new Map<number, { key: string; mode: LockMode }[]>();
  /** Acquire attempts refused (for reports and tests). */
  busyCount = 0;

  private state(key: string): LockState {
    let s = this.entries.get(key);
    if (s === undefined) {
      s = { exclusive: -1, shared: 0, hostPriority: false };
      this.entries.set(key, s);
    }
    return s;
  }

  private take(cpu: number, key: string, mode: LockMode, who: Requester): LockResult {
    const s = this.state(key);
    if (who === "guest" && s.hostPriority) return "busy-host-priority";
    const free = mode === "shared" ? s.exclusive < 0 : s.exclusive < 0 && s.shared === 0;
    if (!free) {
      if (who === "host" && mode === "exclusive") s.hostPriority = true;
      return "busy";
    }
    if (mode === "shared") s.shared++;
    else {
      s.exclusive = cpu;
      if (who === "host") s.hostPriority = false;
    }
    let list = this.held.get(cpu);
    if (list === undefined) {
      list = [];
      this.held.set(cpu, list);
    }
    list.push({ key, mode });
    return "ok";
  }

  private drop(key: string, mode: LockMode): void {
    const s = this.entries.get(key);
    if (s === undefined) return;
    if (mode === "shared") s.shared--;
    else s.exclusive = -1;
    if (s.exclusive < 0 && s.shared === 0 && !s.hostPriority) this.entries.delete(key);
  }

  /**
   * The PAMT walk to 4 KiB page `pfn` on `cpu`: the 1G and 2M entries shared, the 4K leaf in `mode`.
   * On any refusal nothing of this walk stays held and the refusal is returned.
   */
  acquire(cpu: number, pfn: number, mode: LockMode, who: Requester = "host"): LockResult {
    const before = this.held.get(cpu)?.length ?? 0;
    const steps: [string, LockMode][] = [
      [`1g:${Math.floor(pfn / PAGES_1G)}`, "shared"],
      [`2m:${Math.floor(pfn / PAGES_2M)}`, "shared"],
      [`4k:${pfn}`, mode],
    ];
    for (const [key, m] of steps) {
      const r = this.take(cpu, key, m, who);
      if (r !== "ok") {
        this.busyCount++;
        const list = this.held.get(cpu) ?? [];
        while (list.length > before) {
          const h = list.pop()!;
          this.drop(h.key, h.mode);
        }
        return r;
      }
    }
    return "ok";
  }

  /** Releases the walk to `pfn` that `cpu` took last (the leaf, then its 2M and 1G entries). */
  release(cpu: number, pfn: number): void {
    const list = this.held.get(cpu);
    if (list === undefined) return;
    const leaf = `4k:${pfn}`;
    for (let i = list.length - 1; i >= 2; i--) {
      if (list[i]!.key !== leaf) continue;
      for (const h of list.splice(i - 2, 3)) this.drop(h.key, h.mode);
      return;
    }
  }

  /** Releases every lock `cpu` holds (what a SEAMCALL does before it returns). Returns how many. */
  releaseAll(cpu: number): number {
    const list = this.held.get(cpu);
    if (list === undefined || list.length === 0) return 0;
    const n = list.length;
    while (list.length > 0) {
      const h = list.pop()!;
      this.drop(h.key, h.mode);
    }
    return n;
  }

  /** Locks `cpu` holds now. */
  heldBy(cpu: number): number {
    return this.held.get(cpu)?.length ?? 0;
  }

  /** The 4 KiB entry of `pfn`: its exclusive holder (−1 none), shared count and host-priority bit. */
  entry(pfn: number): { exclusive: number; shared: number; hostPriority: boolean } {
    const s = this.entries.get(`4k:${pfn}`);
    return s === undefined ? { exclusive: -1, shared: 0, hostPriority: false } : { ...s };
  }
}
