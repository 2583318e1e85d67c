/**
 * The PAMT lock table (src/module/locks.ts) against an oracle written as plainly as the rules of
 * docs/spec/03-module.md 3.2: one `Map` per level from entry index to {exclusive holder, shared count,
 * host-priority bit}, and per CPU a list of walks. Random acquire / release / releaseAll sequences on
 * several CPUs over PFNs chosen to collide (the same 2M and 1G entries, PFNs above 2^32 whose low 32 bits
 * repeat, many entries live at once so the table grows and deletes shift entries back) must give the same
 * result for every call and the same entry states afterwards.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/common/rng.js";
import { type LockMode, PamtLocks, type Requester } from "../../src/module/locks.js";
import { toBe, toEqual } from "../support/assert.js";

interface OracleEntry {
  excl: number;
  shared: number;
  prio: boolean;
}

class OracleLocks {
  readonly levels = [
    new Map<number, OracleEntry>(),
    new Map<number, OracleEntry>(),
    new Map<number, OracleEntry>(),
  ];
  readonly held = new Map<number, { level: number; index: number; excl: boolean }[]>();
  busyCount = 0;

  private entry(level: number, index: number): OracleEntry {
    let e = this.levels[level]!.get(index);
    if (e === undefined) {
      e = { excl: -1, shared: 0, prio: false };
      this.levels[level]!.set(index, e);
    }
    return e;
  }

  private take(cpu: number, level: number, index: number, excl: boolean, who: Requester): string {
    const e = this.entry(level, index);
    if (who === "guest" && e.prio) return "busy-host-priority";
    const free = excl ? e.excl === -1 && e.shared === 0 : e.excl === -1;
    if (!free) {
      if (who === "host" && excl) e.prio = true;
      return "busy";
    }
    if (excl) {
      e.excl = cpu;
      if (who === "host") e.prio = false;
    } else e.shared++;
    this.held.get(cpu)!.push({ level, index, excl });
    return "ok";
  }

  private drop(h: { level: number; index: number; excl: boolean }): void {
    const e = this.entry(h.level, h.index);
    if (h.excl) e.excl = -1;
    else if (e.shared > 0) e.shared--;
  }

  acquire(cpu: number, pfn: number, mode: LockMode, who: Requester): string {
    if (!this.held.has(cpu)) this.held.set(cpu, []);
    const list = this.held.get(cpu)!;
    const before = list.length;
    let r = this.take(cpu, 2, Math.floor(pfn / 262144), false, who);
    if (r === "ok") r = this.take(cpu, 1, Math.floor(pfn / 512), false, who);
    if (r === "ok") r = this.take(cpu, 0, pfn, mode === "exclusive", who);
    if (r !== "ok") {
      this.busyCount++;
      while (list.length > before) this.drop(list.pop()!);
    }
    return r;
  }

  release(cpu: number, pfn: number): void {
    const list = this.held.get(cpu) ?? [];
    for (let i = list.length - 1; i >= 2; i--) {
      if (list[i]!.level !== 0 || list[i]!.index !== pfn) continue;
      for (const h of list.splice(i - 2, 3)) this.drop(h);
      return;
    }
  }

  releaseAll(cpu: number): number {
    const list = this.held.get(cpu) ?? [];
    const n = list.length;
    while (list.length > 0) this.drop(list.pop()!);
    return n;
  }

  entryOf(pfn: number): { exclusive: number; shared: number; hostPriority: boolean } {
    const e = this.levels[0]!.get(pfn) ?? { excl: -1, shared: 0, prio: false };
    return { exclusive: e.excl, shared: e.shared, hostPriority: e.prio };
  }
}

describe("PamtLocks against a Map oracle", () => {
  it.each([1, 2, 3, 20261202])(
    "seed %i: same results and entry states over 20,000 random operations",
    (seed) => {
      const rng = Rng.mulberry32(seed);
      const int = (n: number) => rng.below(n);
      // PFNs in two 2M entries of one 1G entry, plus PFNs 2^32 apart (same low 32 bits) in high memory.
      const pfns: number[] = [];
      for (let i = 0; i < 48; i++) pfns.push(i, 512 + i, 2 ** 32 + i, 2 * 2 ** 32 + i, 262144 * 3 + i);
      const t = new PamtLocks();
      const o = new OracleLocks();
      for (let step = 0; step < 20_000; step++) {
        const cpu = int(4);
        const op = int(10);
        if (op < 6) {
          const pfn = pfns[int(pfns.length)]!;
          const mode: LockMode = int(3) === 0 ? "shared" : "exclusive";
          const who: Requester = int(5) === 0 ? "guest" : "host";
          toBe(t.acquire(cpu, pfn, mode, who), o.acquire(cpu, pfn, mode, who), () => `step ${step}`);
        } else if (op < 9) {
          const pfn = pfns[int(pfns.length)]!;
          t.release(cpu, pfn);
          o.release(cpu, pfn);
        } else toBe(t.releaseAll(cpu), o.releaseAll(cpu), () => `step ${step}`);
        toBe(t.heldBy(cpu), o.held.get(cpu)?.length ?? 0);
      }
      expect(t.busyCount).toBe(o.busyCount);
      expect(t.busyCount).toBeGreaterThan(100);
      for (const pfn of pfns) expect(t.entry(pfn), `pfn ${pfn}`).toEqual(o.entryOf(pfn));
    },
  );
});

describe("a walk taken on an idle table (kept pending until another operation looks)", () => {
  it("another CPU's exclusive take of the same page is refused and sets the host-priority bit", () => {
    const t = new PamtLocks();
    expect(t.acquire(0, 700, "exclusive")).toBe("ok");
    expect(t.acquire(1, 700, "exclusive")).toBe("busy");
    expect(t.acquire(1, 700, "shared", "guest")).toBe("busy-host-priority");
    expect(t.busyCount).toBe(2);
    expect(t.entry(700)).toEqual({ exclusive: 0, shared: 0, hostPriority: true });
    t.release(0, 700);
    expect(t.entry(700)).toEqual({ exclusive: -1, shared: 0, hostPriority: true });
    expect(t.heldBy(0)).toBe(0);
    // The bit stays until the host's next exclusive take, which a pending walk must not skip.
    expect(t.acquire(1, 700, "exclusive")).toBe("ok");
    expect(t.entry(700)).toEqual({ exclusive: 1, shared: 0, hostPriority: false });
    expect(t.releaseAll(1)).toBe(3);
  });

  it("a shared walk lets another CPU share the page; heldBy and releaseAll count the pending walk", () => {
    const t = new PamtLocks();
    expect(t.acquire(2, 5, "shared")).toBe("ok");
    expect(t.heldBy(2)).toBe(3);
    expect(t.acquire(3, 5, "shared")).toBe("ok");
    expect(t.entry(5)).toEqual({ exclusive: -1, shared: 2, hostPriority: false });
    expect(t.releaseAll(2)).toBe(3);
    expect(t.releaseAll(3)).toBe(3);
    expect(t.acquire(3, 5, "exclusive")).toBe("ok");
    expect(t.releaseAll(2)).toBe(0);
    expect(t.releaseAll(3)).toBe(3);
    expect(t.entry(5)).toEqual({ exclusive: -1, shared: 0, hostPriority: false });
  });

  it.each([7, 8, 9])(
    "seed %i: short runs from an idle table agree with the oracle without looking in between",
    (seed) => {
      const rng = Rng.mulberry32(seed);
      const int = (n: number) => rng.below(n);
      const pfns = [0, 1, 511, 512, 2 ** 32, 262144];
      for (let run = 0; run < 2000; run++) {
        const t = new PamtLocks();
        const o = new OracleLocks();
        const ops = 1 + int(6);
        for (let step = 0; step < ops; step++) {
          const cpu = int(2);
          const op = int(6);
          const pfn = pfns[int(pfns.length)]!;
          if (op < 3) {
            const mode: LockMode = int(2) === 0 ? "shared" : "exclusive";
            const who: Requester = int(4) === 0 ? "guest" : "host";
            toBe(
              t.acquire(cpu, pfn, mode, who),
              o.acquire(cpu, pfn, mode, who),
              () => `run ${run} step ${step}`,
            );
          } else if (op < 5) {
            t.release(cpu, pfn);
            o.release(cpu, pfn);
          } else toBe(t.releaseAll(cpu), o.releaseAll(cpu), () => `run ${run} step ${step}`);
        }
        toBe(t.busyCount, o.busyCount);
        for (const pfn of pfns) toEqual(t.entry(pfn), o.entryOf(pfn), () => `run ${run} pfn ${pfn}`);
        for (const cpu of [0, 1]) toBe(t.heldBy(cpu), o.held.get(cpu)?.length ?? 0);
      }
    },
  );
});
