/**
 * What a host flow reports: success or the failing step and status, the SEAMCALLs it made, interrupts
 * it resumed, and pages it stranded under the failure policy (docs/spec/02-kapi.md 2.6).
 */
import { statusText } from "../../common/status.js";
import type { U64 } from "../../common/u64.js";
import type { GateResult } from "../connect-state.js";

/** Outcome of one flow. */
export interface FlowResult {
  readonly flow: string;
  readonly ok: boolean;
  /** The step that failed, e.g. "TDH.EXT.MEM.ADD chunk 3" (null when ok). */
  readonly failedStep: string | null;
  /** The failing status as text (null when ok, or when the failure was not a status, e.g. -ENOMEM). */
  readonly failedStatus: string | null;
  readonly interrupts: number;
  /** Pages this flow stranded. */
  readonly strandedPages: number;
  /** Free-form per-flow details (pages donated, units set up, …). */
  readonly details: Record<string, number | string>;
}

/** Accumulates a flow's figures as it runs. */
export class FlowRecorder {
  interrupts = 0;
  stranded = 0;
  readonly details: Record<string, number | string> = {};
  constructor(readonly flow: string) {}

  ok(): FlowResult {
    return {
      flow: this.flow,
      ok: true,
      failedStep: null,
      failedStatus: null,
      interrupts: this.interrupts,
      strandedPages: this.stranded,
      details: this.details,
    };
  }

  fail(step: string, status: U64 | null): FlowResult {
    return {
      flow: this.flow,
      ok: false,
      failedStep: step,
      failedStatus: status === null ? null : statusText(status),
      interrupts: this.interrupts,
      strandedPages: this.stranded,
      details: this.details,
    };
  }

  /**
   * The flow's result when the TDX Connect gate says not to run: ok with the reason in
   * `details.skipped`, or failed at the gate's step. Null when the gate says run.
   */
  stopAtGate(gate: GateResult): FlowResult | null {
    if (gate.run) return null;
    if ("skipped" in gate) {
      this.details.skipped = gate.skipped;
      return this.ok();
    }
    return this.fail(gate.failedStep, gate.status);
  }
}
