/**
 * What a scenario run keeps between its steps: the machine, the flows' state, the pages of each alloc
 * step and the operand of each root step, the other logical CPUs, and the expectations and findings so
 * far. The step handlers (`steps.ts`) read and change it; the runner (`runner.ts`) reports from it.
 */
import { callRegs } from "../common/seamcall.js";
import { hpaToU64, type U64 } from "../common/u64.js";
import type { CpuScheduler } from "../host/cpus.js";
import type { Page } from "../host/page.js";
import { addCpus, type Machine } from "../machine.js";
import type { FlowState } from "./flows.js";
import { recordRawCall } from "./raw-handover.js";
import type { RegValue } from "./schema.js";

/** An expectation and its verdict. */
export interface ExpectationResult {
  readonly step: number;
  readonly ok: boolean;
  readonly message: string;
}

/** What the scenario declared it expects to find (so finding it is not a problem). */
export interface Declared {
  hazards: boolean;
  reports: boolean;
  conservationFail: boolean;
  flowFail: boolean;
}

/** What {@link recordRawCall} needs of the machine: how many IOMMU_MT entries SETUP reads. */
export const rawOpts = (m: Machine) => ({ iommuEntries: m.platform.metadata.IOMMU_MT_PAGE_COUNT + 2 });

/** The state of one run (see the file's doc). */
export class RunState {
  readonly flows: FlowState = { iommus: [], extra: new Map() };
  /** Pages of each alloc step, by name. */
  readonly sets = new Map<string, Page[]>();
  /** Operand of each root step, by name. */
  readonly operands = new Map<string, U64>();
  readonly expectations: ExpectationResult[] = [];
  readonly declared: Declared = { hazards: false, reports: false, conservationFail: false, flowFail: false };
  /** Findings no expectation declared (these make the exit code 1). */
  readonly unexpected: string[] = [];
  /** Logical CPUs beyond 0, created by the first call queued on one. */
  cpus: CpuScheduler | null = null;
  /** Results of other CPUs' calls already reported by a join. */
  joined = 0;
  /** Results of other CPUs' calls already followed (their hand-over recorded). */
  private followed = 0;

  constructor(readonly m: Machine) {}

  /** The CPU scheduler, created with `schedule` by the first call queued on another CPU. */
  cpusFor(schedule: { readonly cpus: number; readonly seed: number; readonly p: number }): CpuScheduler {
    this.cpus ??= addCpus(this.m, schedule);
    return this.cpus;
  }

  /** A register value: a u64 as written, a root's operand, or the HPA of an alloc's page (0 if none). */
  resolve(v: RegValue): U64 {
    if ("u64" in v) return v.u64;
    const op = this.operands.get(v.ref);
    if (op !== undefined && v.index === null) return op;
    const pages = this.sets.get(v.ref) ?? [];
    return hpaToU64(pages[v.index ?? 0]?.hpa ?? 0);
  }

  /** Records what other CPUs' calls that finished since the last time handed over. */
  followOtherCpus(): void {
    const cpus = this.cpus;
    if (cpus === null) return;
    for (; this.followed < cpus.results.length; this.followed++) {
      // As for a call on CPU 0: what it handed over follows from its own operands and status.
      const res = cpus.results[this.followed]!;
      const regsIn = callRegs(res.call.leaf, res.call.inputs);
      recordRawCall(this.m.kernel, regsIn.w.slice(), res.regs, rawOpts(this.m));
    }
  }
}
