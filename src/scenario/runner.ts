/**
 * Runs a validated scenario on a fresh machine and reports what happened: per step (phase) the
 * SEAMCALLs by leaf and status, interrupts, hazards and pages by state; at the end the conservation
 * check, hazards, model reports and every expectation with its verdict. The exit code is 0 when the run
 * is clean or everything it found was expected, 1 otherwise.
 */
import type { Hazard } from "../hw/cache.js";
import { createMachine, type Machine } from "../machine.js";
import type { ModelReport } from "../module/emulator.js";
import { type ConservationReport, checkConservation } from "../observe/conservation.js";
import { attachEvents, type EventSink } from "../observe/events.js";
import { type ExpectationResult, RunState } from "./run-state.js";
import type { Scenario } from "./schema.js";
import { handlerOf, StepRun } from "./steps.js";
import { type Verdict, verdictOf } from "./verdict.js";

export type { ExpectationResult } from "./run-state.js";

/** Pages by state, as a run report counts them. */
export interface PageStates {
  /** Pages handed to the module so far (cumulative). */
  readonly donated: number;
  /** Pages the module owns now (PAMT type other than PT_NDA and PT_RSVD: the conservation check's term). */
  readonly moduleOwned: number;
  /** Pages the module gave back so far (cumulative). */
  readonly returned: number;
  /** Pages the host stranded forever. */
  readonly stranded: number;
}

/** One step's figures. */
export interface PhaseReport {
  readonly index: number;
  readonly label: string;
  readonly ok: boolean;
  /**
   * What happened: `ok` (the step did what it asked), `failed-as-expected` (it failed, and the scenario
   * expected that failure), `failed` (it failed, or an expectation of the step was not met).
   */
  readonly outcome: StepOutcome;
  /** The status a SEAMCALL step or a failed flow ended with (null for other steps and flows that succeeded). */
  readonly status: string | null;
  /** Why it failed, or a note (null when ok and nothing to say). */
  readonly detail: string | null;
  /** Explanations of results that look like failures but are part of a clean run (e.g. an IOMMU probe). */
  readonly notes: readonly string[];
  /** The host's SEAMCALLs in this step: leaf → status → count. */
  readonly calls: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /**
   * SEAMCALLs the runner made for its own bookkeeping: always 0 since raw calls are recorded from their
   * own operands and status (ledger `raw-call-ledger`); kept in the report's shape (schemaVersion 1).
   */
  readonly bookkeepingCalls: number;
  readonly interrupts: number;
  readonly hazards: number;
  readonly pages: PageStates;
}

/** What a step did; see {@link PhaseReport.outcome}. */
export type StepOutcome = "ok" | "failed-as-expected" | "failed";

/** The whole run. */
export interface RunReport {
  readonly scenario: string;
  readonly platform: string;
  readonly ok: boolean;
  readonly exitCode: 0 | 1;
  /**
   * `clean` (nothing found), `findings, all expected` (hazards, reports, failed steps or strandings,
   * each declared by the scenario) or `problems found` (exit code 1).
   */
  readonly verdict: Verdict;
  readonly phases: readonly PhaseReport[];
  readonly totals: {
    /** The host's SEAMCALLs (all of them: the runner issues none of its own). */
    readonly calls: number;
    readonly bookkeepingCalls: number;
    readonly interrupts: number;
    readonly hazards: number;
    readonly reports: number;
    readonly pages: PageStates;
  };
  /** The first 20 hazards by page, then kind (all are in a trace, in the order they happened). */
  readonly hazards: readonly Hazard[];
  readonly reports: readonly ModelReport[];
  readonly conservation: ConservationReport;
  readonly expectations: readonly ExpectationResult[];
  /** Findings no expectation declared (these make the exit code 1). */
  readonly unexpected: readonly string[];
}

/** Options of {@link runScenario}. */
export interface RunOptions {
  /** Receives every model event (traces). */
  readonly onEvent?: EventSink;
  /** Include one event per PAMT change and per freed page (default true). */
  readonly pageEvents?: boolean;
  /** Called after each step: steps done, steps total, the step's label. */
  readonly progress?: (done: number, total: number, label: string) => void;
  /** Called with the machine after the last step (for inspection tools). */
  readonly onDone?: (m: Machine) => void;
}

function pageStates(m: Machine): PageStates {
  return {
    donated: m.module.pageCounts.claimed,
    moduleOwned: m.module.pamt.ownedPages,
    returned: m.module.pageCounts.released,
    stranded: m.kernel.ledger.stranded.size,
  };
}

/** SEAMCALLs between two snapshots of the module's status counts: leaf → status → count. */
export function callDelta(
  before: Map<string, number>,
  after: Map<string, number>,
): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [key, n] of after) {
    const d = n - (before.get(key) ?? 0);
    if (d <= 0) continue;
    const i = key.indexOf(" ");
    const leaf = key.slice(0, i);
    const st = key.slice(i + 1);
    out[leaf] ??= {};
    out[leaf][st] = d;
  }
  return out;
}

/** Runs `s` and returns its report. Never throws for anything a scenario can express. */
export function runScenario(s: Scenario, opts: RunOptions = {}): RunReport {
  const m = createMachine(s.platform, {
    behaviours: s.behaviours,
    interrupts: s.interrupts,
    policy: s.policy,
  });
  const events =
    opts.onEvent === undefined
      ? null
      : attachEvents(m, opts.onEvent, { pages: opts.pageEvents !== false, frees: opts.pageEvents !== false });
  const run = new RunState(m);
  const phases: PhaseReport[] = [];
  for (const [index, step] of s.steps.entries()) {
    const handler = handlerOf(step);
    const label = handler.label(step);
    const before = new Map(m.module.statusCounts);
    const hazardsBefore = m.cache.hazards.length;
    events && opts.onEvent!({ type: "phase", t: events.now(), name: label, edge: "begin" });
    const r = new StepRun(run, index, label);
    handler.run(r, step);
    // Calls of other CPUs that finished during this step: the host follows their pages now.
    run.followOtherCpus();
    phases.push(phaseReport(m, r, before, hazardsBefore));
    events && opts.onEvent!({ type: "phase", t: events.now(), name: label, edge: "end" });
    opts.progress?.(index + 1, s.steps.length, label);
  }
  // Calls still queued on other CPUs run to their end before the final checks (as a join would).
  if (run.cpus !== null && run.cpus.pending > 0) {
    run.cpus.drain();
    run.followOtherCpus();
  }

  opts.onDone?.(m);
  // End of run: the cache sweep (private lines left on pages the module gave back; stranded pages are
  // never reused), and after a teardown of flows only, the host must hold no page (src/observe/judge.ts).
  m.cache.sweep((pfn) => m.kernel.ledger.stranded.has(pfn));
  const flowsOnly = s.steps.every((x) => x.kind !== "alloc" && x.kind !== "root");
  const tornDown = s.steps.some((x) => x.kind === "flow" && x.flow === "teardown");
  const conservation = checkConservation(m, { endOfTeardown: flowsOnly && tornDown });
  const { declared, unexpected, expectations } = run;
  if (m.cache.hazards.length > 0 && !declared.hazards)
    unexpected.push(`${m.cache.hazards.length} hazard(s) found`);
  if (m.module.reports.length > 0 && !declared.reports)
    unexpected.push(`${m.module.reports.length} model report(s)`);
  if (!conservation.ok && !declared.conservationFail)
    unexpected.push(`conservation check failed: ${conservation.violations[0]}`);
  events?.detach();
  const ok = unexpected.length === 0 && expectations.every((e) => e.ok);
  let calls = 0;
  let bookkeepingCalls = 0;
  let interrupts = 0;
  for (const p of phases) {
    for (const l of Object.values(p.calls)) for (const n of Object.values(l)) calls += n;
    bookkeepingCalls += p.bookkeepingCalls;
    interrupts += p.interrupts;
  }
  return {
    scenario: s.name,
    platform: s.platform.name,
    ok,
    exitCode: ok ? 0 : 1,
    verdict: verdictOf({
      ok,
      hazards: m.cache.hazards.length,
      reports: m.module.reports.length,
      conservationOk: conservation.ok,
      failedSteps: phases.filter((p) => p.outcome !== "ok").length,
      stranded: m.kernel.ledger.stranded.size,
    }),
    phases,
    totals: {
      calls,
      bookkeepingCalls,
      interrupts,
      hazards: m.cache.hazards.length,
      reports: m.module.reports.length,
      pages: pageStates(m),
    },
    hazards: sortHazards(m.cache.hazards).slice(0, 20),
    reports: m.module.reports.slice(0, 20),
    conservation,
    expectations,
    unexpected,
  };
}

/** A step's figures, from what its handler recorded and the machine's counts before and after it. */
function phaseReport(
  m: Machine,
  r: StepRun,
  before: Map<string, number>,
  hazardsBefore: number,
): PhaseReport {
  const calls = callDelta(before, m.module.statusCounts);
  let interrupts = 0;
  for (const leaf of Object.values(calls)) interrupts += leaf.TDX_INTERRUPTED_RESUMABLE ?? 0;
  const stepExpected = r.run.expectations.some((x) => x.step === r.index);
  return {
    index: r.index,
    label: r.label,
    ok: r.ok,
    outcome: r.failed && r.ok && stepExpected ? "failed-as-expected" : r.ok ? "ok" : "failed",
    status: r.status,
    detail: r.detail,
    notes: r.notes,
    calls,
    // The runner issues no SEAMCALL of its own: a raw call's hand-over is recorded from its operands
    // and status (ledger `raw-call-ledger`). The field stays in the report's shape (schemaVersion 1).
    bookkeepingCalls: 0,
    interrupts,
    hazards: m.cache.hazards.length - hazardsBefore,
    pages: pageStates(m),
  };
}

/** Hazards ordered by PFN, then kind, then cause (a stable order to read and to compare runs by). */
export function sortHazards(hs: readonly Hazard[]): Hazard[] {
  return [...hs].sort(
    (a, b) =>
      a.pfn - b.pfn ||
      (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) ||
      (a.cause < b.cause ? -1 : a.cause > b.cause ? 1 : 0),
  );
}

/** MiB of `pages` 4 KiB pages. */
export function mib(pages: number): number {
  return pages / 256;
}
