/**
 * What an exec session (session.ts, docs/PROTOCOL.md) records about its machine besides the replies:
 * the phases a host program marks (PHASE_BEGIN / PHASE_END marks, or "program" between them) with the
 * calls, interrupts, hazards and kernel warnings of each, as `tdxpa run` reports steps; and how the
 * session watches the machine: a C host keeps no ledger of what it donated, so the ledger follows the
 * PAMT (docs/ASSUMPTIONS.md, `exec-ledger-from-pamt`), and model events are forwarded with the C
 * function the host was in. Core code: no Node APIs.
 */
import type { Machine } from "../machine.js";
import { PT } from "../module/pamt.js";
import { attachEvents, type EventSink, type ModelEvent } from "../observe/events.js";
import { callDelta, type PageStates, type PhaseReport } from "../scenario/runner.js";

/** A kernel warning (WARN_ON) the host program reported, with the function it was in. */
export interface SessionWarning {
  readonly fn: string;
  readonly message: string;
}

/** The phase in progress: where its counts started. */
interface OpenPhase {
  readonly label: string;
  readonly marked: boolean;
  readonly before: Map<string, number>;
  readonly hazardsBefore: number;
  readonly warningsBefore: number;
}

/** The session's page counts as a run report gives them. */
export function pageStatesOf(machine: Machine): PageStates {
  return {
    donated: machine.module.pageCounts.claimed,
    moduleOwned: machine.module.pamt.ownedPages,
    returned: machine.module.pageCounts.released,
    stranded: machine.kernel.ledger.stranded.size,
  };
}

/**
 * The phases of one session, in order. The session starts in the unmarked phase "program"; an
 * unmarked phase in which nothing happened is left out of the report.
 */
export class PhaseLog {
  /** Finished phases, as the run report lists them. */
  readonly phases: PhaseReport[] = [];
  /** Every warning, in order. */
  readonly warnings: SessionWarning[] = [];
  #phase: OpenPhase;

  /**
   * @param sink receives a "phase" event at each edge of a marked phase (null: none).
   * @param now the event clock.
   */
  constructor(
    private readonly machine: Machine,
    private readonly sink: EventSink | null,
    private readonly now: () => number,
  ) {
    this.#phase = this.#open("program", false);
  }

  /** Records a kernel warning in the current phase (it fails the phase). */
  warn(warning: SessionWarning): void {
    this.warnings.push(warning);
  }

  /** Ends the current phase and starts `label` (marked: named by the host program). */
  switchTo(label: string, marked: boolean): void {
    this.close();
    this.#phase = this.#open(label, marked);
  }

  /** Ends the current phase (at the end of the session; {@link switchTo} does it otherwise). */
  close(): void {
    const p = this.#phase;
    const machine = this.machine;
    const calls = callDelta(p.before, machine.module.statusCounts);
    const hazards = machine.cache.hazards.length - p.hazardsBefore;
    const warns = this.warnings.slice(p.warningsBefore);
    if (p.marked) this.sink?.({ type: "phase", t: this.now(), name: p.label, edge: "end" });
    if (!p.marked && Object.keys(calls).length === 0 && hazards === 0 && warns.length === 0) return;
    let interrupts = 0;
    for (const leaf of Object.values(calls)) interrupts += leaf.TDX_INTERRUPTED_RESUMABLE ?? 0;
    this.phases.push({
      index: this.phases.length,
      label: p.label,
      ok: hazards === 0 && warns.length === 0,
      outcome: hazards === 0 && warns.length === 0 ? "ok" : "failed",
      status: null,
      detail: warns.length > 0 ? `WARNING: ${warns[0]!.message}` : null,
      notes: [],
      calls,
      bookkeepingCalls: 0,
      interrupts,
      hazards,
      pages: pageStatesOf(machine),
    });
  }

  /** SEAMCALLs and TDX_INTERRUPTED_RESUMABLE returns over all finished phases. */
  totals(): { calls: number; interrupts: number } {
    let calls = 0;
    let interrupts = 0;
    for (const p of this.phases) {
      for (const l of Object.values(p.calls)) for (const n of Object.values(l)) calls += n;
      interrupts += p.interrupts;
    }
    return { calls, interrupts };
  }

  #open(label: string, marked: boolean): OpenPhase {
    const machine = this.machine;
    if (marked) this.sink?.({ type: "phase", t: this.now(), name: label, edge: "begin" });
    return {
      label,
      marked,
      before: new Map(machine.module.statusCounts),
      hazardsBefore: machine.cache.hazards.length,
      warningsBefore: this.warnings.length,
    };
  }
}

/**
 * Watches `machine` for a session: the host's ledger follows the PAMT (what the module claimed is
 * donated, what it gave back is not) and, when `forward` is given, every model event goes to it,
 * SEAMCALLs named with `currentFunction()` (the host program's innermost mark). `pages` false drops
 * per-page events (PAMT changes, frees) from what is forwarded. Returns how to stop and the event clock.
 */
export function watchMachine(
  machine: Machine,
  forward: EventSink | null,
  pages: boolean,
  currentFunction: () => string | null,
): { detach: () => void; now: () => number } {
  const ledger = machine.kernel.ledger;
  const follow = (pfn: number, to: number, owner: number) => {
    if (to === PT.NDA || to === PT.RSVD) ledger.donated.delete(pfn);
    else ledger.donated.set(pfn, machine.module.objects.get(owner)?.name ?? `object ${owner}`);
  };
  if (forward === null) {
    // No listener: only the ledger needs the PAMT changes (decoding every call costs, measured ~6x).
    machine.module.pamt.onChange = (pfn, _from, to, owner) => follow(pfn, to, owner);
    return {
      detach: () => {
        machine.module.pamt.onChange = null;
      },
      now: () => 0,
    };
  }
  return attachEvents(
    machine,
    (e: ModelEvent) => {
      if (e.type === "page") {
        follow(e.pfn, e.to === PT.NDA || e.to === PT.RSVD ? e.to : -1, e.owner);
        if (!pages) return;
      } else if (e.type === "free" && !pages) return;
      const fn = currentFunction();
      if (e.type === "seamcall" && fn !== null) forward({ ...e, fn } as ModelEvent);
      else forward(e);
    },
    { pages: true, frees: pages },
  );
}
