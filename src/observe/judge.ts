/**
 * The end-of-teardown verdict (02-kapi.md 2.5–2.6, 03-module.md 3.5): after a run's teardown, the
 * conservation check with its end rule (the host holds no page except reported strandings), the cache
 * sweep (no page the module gave back still has dirty private lines; stranded pages are exempt, they are
 * never reused), and the failure policy of the extensions bring-up (any failure strands every page it
 * donated). Used by the fault campaign (src/faults/campaign.ts) and the scenario runner.
 */
import { EXT_POOL_OWNER } from "../host/flows/extensions.js";
import type { FlowResult } from "../host/flows/result.js";
import type { Hazard } from "../hw/cache.js";
import type { Machine } from "../machine.js";
import { type ConservationReport, checkConservation } from "./conservation.js";

/** What {@link judgeEndOfTeardown} found. */
export interface EndOfTeardown {
  readonly conservation: ConservationReport;
  /** Hazards the cache sweep added (also appended to `m.cache.hazards`). */
  readonly sweep: readonly Hazard[];
  /** Failure-policy rules the host broke, one line each. */
  readonly policy: readonly string[];
}

/**
 * Judges a machine after its teardown; `flows` are the flow results of the run (for the failure policy).
 * @example const j = judgeEndOfTeardown(m, results); j.conservation.ok && j.sweep.length === 0
 */
export function judgeEndOfTeardown(m: Machine, flows: readonly FlowResult[]): EndOfTeardown {
  const ledger = m.kernel.ledger;
  const conservation = checkConservation(m, { endOfTeardown: true });
  const sweep = m.cache.sweep((pfn) => ledger.stranded.has(pfn));
  const policy: string[] = [];
  if (flows.some((r) => r.flow === "extensions" && !r.ok)) {
    let kept = 0;
    for (const [, owner] of ledger.donated) if (owner === EXT_POOL_OWNER) kept++;
    if (kept > 0)
      policy.push(
        `the extensions bring-up failed but ${kept} page(s) are still donated to the pool, not stranded (02-kapi.md 2.5: any failure strands every page)`,
      );
  }
  return { conservation, sweep, policy };
}
