/**
 * The host's other logical CPUs (docs/spec/03-module.md 3.2, 3.4): a machine has N logical CPUs; CPU 0
 * runs the host's flows and scenario steps, and each other CPU runs a program of SEAMCALLs whose calls
 * interleave with CPU 0's under a seeded schedule. A call on another CPU runs at one of CPU 0's yield
 * points (a page checked and locked, not yet claimed), so it meets CPU 0's PAMT locks as a call running
 * at the same time on real hardware would.
 *
 * Each program call is re-issued the way the kernel does: TDX_OPERAND_BUSY (contention) → retry;
 * CPU 0's own retry loops retry OPERAND_BUSY too, and their `cpu_relax()` lets the other CPUs run;
 * TDX_INTERRUPTED_RESUMABLE → re-issue, TDH.EXT.MEM.ADD with RCX as returned, every other leaf with the
 * original inputs. Any other status ends that call and the program moves on.
 *
 * Limits of the model: other CPUs run SEAMCALL programs, not whole flows, and a call run at a yield
 * point completes (or is interrupted) before CPU 0 goes on: the schedule interleaves whole calls of the
 * other CPUs between steps of CPU 0's calls, never the reverse.
 */
import { rangeError } from "../common/errors.js";
import { Rng } from "../common/rng.js";
import { callRegs, type Regs } from "../common/seamcall.js";
import { isStatus, LEAF, leafName, REG, STATUS } from "../common/status.js";
import type { U64 } from "../common/u64.js";

/** One SEAMCALL of a CPU program. */
export interface CpuCall {
  readonly leaf: number;
  /** Input registers by register number (RCX 1, RDX 2, R8 8, …). */
  readonly inputs: Readonly<Record<number, U64>>;
}

/** How one program call ended. */
export interface CpuCallResult {
  /** The call as submitted. */
  readonly call: CpuCall;
  readonly cpu: number;
  readonly leaf: string;
  readonly status: U64;
  /** TDX_OPERAND_BUSY returns that were retried. */
  readonly busyRetries: number;
  /** TDX_INTERRUPTED_RESUMABLE returns that were re-issued. */
  readonly interrupts: number;
  /** Output registers of the last issue. */
  readonly regs: Regs;
}

/** The schedule: `p` is the chance that a yield point runs another CPU's next call (seeded). */
export interface CpuSchedule {
  readonly cpus: number;
  readonly seed: number;
  readonly p: number;
}

interface Pending {
  call: CpuCall;
  regs: Regs;
  busyRetries: number;
  interrupts: number;
}

/** Issues SEAMCALLs on logical CPUs other than 0 and interleaves them at CPU 0's yield points. */
export class CpuScheduler {
  private readonly queues: Pending[][];
  private readonly rng: Rng;
  private depth = 0;
  /** Finished calls, in completion order. */
  readonly results: CpuCallResult[] = [];

  /**
   * @param schedule CPU count (2..64), seed and switch probability (0..1).
   * @param seamcallOn issues `regs` as a SEAMCALL on logical CPU `cpu` (the machine wires it).
   */
  constructor(
    readonly schedule: CpuSchedule,
    private readonly seamcallOn: (cpu: number, regs: Regs) => void,
  ) {
    if (!Number.isInteger(schedule.cpus) || schedule.cpus < 2 || schedule.cpus > 64)
      throw rangeError("cpus", schedule.cpus, "2..64");
    if (!(schedule.p >= 0 && schedule.p <= 1)) throw rangeError("cpus.p", schedule.p, "0..1");
    this.queues = Array.from({ length: schedule.cpus }, () => []);
    this.rng = Rng.xorshift32(schedule.seed);
  }

  /** Queues `calls` on `cpu` (1..cpus−1); they run at later yield points or at {@link drain}. */
  submit(cpu: number, calls: readonly CpuCall[]): void {
    if (!Number.isInteger(cpu) || cpu < 1 || cpu >= this.schedule.cpus)
      throw rangeError("cpu", cpu, `1..${this.schedule.cpus - 1}`);
    for (const call of calls)
      this.queues[cpu]!.push({ call, regs: regsOf(call), busyRetries: 0, interrupts: 0 });
  }

  /** Calls still queued. */
  get pending(): number {
    return this.queues.reduce((n, q) => n + q.length, 0);
  }

  /**
   * A yield point of the running call on CPU 0: with probability p (seeded), one queued call of one
   * other CPU runs now. Nested yield points (inside that call) run nothing.
   */
  point(): void {
    if (this.depth > 0 || this.pending === 0 || this.rng.unit() >= this.schedule.p) return;
    const ready = this.queues.flatMap((q, cpu) => (q.length > 0 ? [cpu] : []));
    this.step(ready[this.rng.below(ready.length)]!);
  }

  /**
   * CPU 0's `cpu_relax()` while it retries a call refused with OPERAND_BUSY: every other CPU with a
   * queued call issues it once, so whatever CPU 0 waits for can finish.
   */
  relax(): void {
    if (this.depth > 0) return;
    for (let cpu = 1; cpu < this.queues.length; cpu++) this.step(cpu);
  }

  /** Runs every queued call to its end (no call of CPU 0 is running: nothing contends any more). */
  drain(): void {
    while (this.pending > 0) for (let cpu = 1; cpu < this.queues.length; cpu++) this.step(cpu);
  }

  /** Issues the head call of `cpu`'s queue once and handles its status. */
  private step(cpu: number): void {
    const q = this.queues[cpu]!;
    const p = q[0];
    if (p === undefined) return;
    this.depth++;
    try {
      this.seamcallOn(cpu, p.regs);
    } finally {
      this.depth--;
    }
    const status = p.regs.get(REG.RAX);
    if (isStatus(status, STATUS.TDX_OPERAND_BUSY)) {
      p.busyRetries++;
      p.regs = reissue(p);
      return;
    }
    if (isStatus(status, STATUS.TDX_INTERRUPTED_RESUMABLE)) {
      p.interrupts++;
      p.regs = reissue(p);
      return;
    }
    q.shift();
    this.results.push({
      call: p.call,
      cpu,
      leaf: leafName(p.call.leaf) ?? `leaf ${p.call.leaf}`,
      status,
      busyRetries: p.busyRetries,
      interrupts: p.interrupts,
      regs: p.regs,
    });
  }
}

function regsOf(call: CpuCall): Regs {
  return callRegs(call.leaf, call.inputs);
}

/** The kernel's re-issue: TDH.EXT.MEM.ADD with RCX as returned, every other leaf as first issued. */
function reissue(p: Pending): Regs {
  const next = regsOf(p.call);
  if (p.call.leaf === LEAF["TDH.EXT.MEM.ADD"]) next.set(REG.RCX, p.regs.get(REG.RCX));
  return next;
}
