/**
 * Runs a validated scenario on a fresh machine and reports what happened: per step (phase) the
 * SEAMCALLs by leaf and status, interrupts, hazards and pages by state; at the end the conservation
 * check, hazards, model reports and every expectation with its verdict. The exit code is 0 when the run
 * is clean or everything it found was expected, 1 otherwise.
 */
import { leafRax, Regs } from "../common/seamcall.js";
import { isSuccessClass, LEAF, REG, statusText } from "../common/status.js";
import { type U64, u64ToHex } from "../common/u64.js";
import type { CpuCall, CpuScheduler } from "../host/cpus.js";
import type { FlowResult } from "../host/flows/result.js";
import { coveredPfns, type Page } from "../host/page.js";
import { tdxPageArrayCreate } from "../host/page-array.js";
import type { Hazard } from "../hw/cache.js";
import { addCpus, createMachine, type Machine } from "../machine.js";
import type { ModelReport } from "../module/emulator.js";
import { type ConservationReport, checkConservation } from "../observe/conservation.js";
import { attachEvents, type EventSink } from "../observe/events.js";
import { FLOWS, type FlowState } from "./flows.js";
import { recordRawCall } from "./raw-handover.js";
import type { Scenario, StateExpect, Step } from "./schema.js";
import { type Verdict, verdictOf } from "./verdict.js";

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

/** An expectation and its verdict. */
export interface ExpectationResult {
  readonly step: number;
  readonly ok: boolean;
  readonly message: string;
}

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

function stepLabel(s: Step): string {
  switch (s.kind) {
    case "flow":
      return `flow ${s.flow}`;
    case "seamcall":
      return `seamcall ${s.leaf}${s.cpu > 0 ? ` on CPU ${s.cpu}` : ""}`;
    case "join":
      return "join the other CPUs";
    case "alloc":
      return `alloc ${s.name} (${s.pages}${s.order > 0 ? ` x order ${s.order}${s.compound ? "" : " non-compound"}` : ""}${s.contiguous ? ", contiguous" : ""})`;
    case "root":
      return `root ${s.name} (${s.format} of ${s.of})`;
    case "inject-alloc":
      return s.nth !== null
        ? `inject allocation ${s.nth} fails`
        : `inject ${s.count} allocation(s) tagged ${s.tag} fail`;
    case "inject-status":
      return `inject ${statusText(s.status)} on ${s.leaf} call ${s.nth}`;
    case "interrupts":
      return `interrupts ${s.plan.kind === "every" ? `every ${s.plan.k}` : s.plan.kind === "random" ? `random p=${s.plan.p} seed=${s.plan.seed}` : "none"}`;
    case "evict":
      return "evict now";
    case "clflush":
      return `clflush ${s.name}`;
    case "expect":
      return "expect";
  }
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

/** What {@link recordRawCall} needs of the machine: how many IOMMU_MT entries SETUP reads. */
const RAW_OPTS = (m: Machine) => ({ iommuEntries: m.platform.metadata.IOMMU_MT_PAGE_COUNT + 2 });

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
  const state: FlowState = { iommus: [], extra: new Map() };
  const sets = new Map<string, Page[]>();
  const operands = new Map<string, U64>();
  const phases: PhaseReport[] = [];
  const expectations: ExpectationResult[] = [];
  const declared = { hazards: false, reports: false, conservationFail: false, flowFail: false };
  const unexpected: string[] = [];
  /** Logical CPUs beyond 0, created by the first call queued on one. */
  let cpus: CpuScheduler | null = null;
  /** Results of other CPUs' calls already reported by a join, and already followed. */
  let joined = 0;
  let followed = 0;
  /** Records what other CPUs' calls that finished since the last time handed over. */
  const followOtherCpus = (): void => {
    if (cpus === null) return;
    for (; followed < cpus.results.length; followed++) {
      // As for a call on CPU 0: what it handed over follows from its own operands and status.
      const res = cpus.results[followed]!;
      const regsIn = new Regs();
      regsIn.set(REG.RAX, leafRax(res.call.leaf));
      for (const [reg, v] of Object.entries(res.call.inputs)) regsIn.set(Number(reg), v);
      recordRawCall(m.kernel, regsIn.w.slice(), res.regs, RAW_OPTS(m));
    }
  };

  const resolve = (v: { u64: U64 } | { ref: string; index: number | null }): U64 => {
    if ("u64" in v) return v.u64;
    const op = operands.get(v.ref);
    if (op !== undefined && v.index === null) return op;
    const pages = sets.get(v.ref) ?? [];
    const p = pages[v.index ?? 0];
    const hpa = p?.hpa ?? 0;
    return { lo: hpa % 2 ** 32, hi: Math.floor(hpa / 2 ** 32) };
  };

  for (const [index, step] of s.steps.entries()) {
    const label = stepLabel(step);
    const before = new Map(m.module.statusCounts);
    const hazardsBefore = m.cache.hazards.length;
    events && opts.onEvent!({ type: "phase", t: events.now(), name: label, edge: "begin" });
    let ok = true;
    /** The step itself failed (a flow or an allocation failed, a SEAMCALL returned an error). */
    let failed = false;
    let status: string | null = null;
    let detail: string | null = null;
    const notes: string[] = [];
    const expect = (cond: boolean, message: string) => {
      expectations.push({ step: index, ok: cond, message });
      if (!cond) ok = false;
    };
    switch (step.kind) {
      case "flow": {
        const results: FlowResult[] = FLOWS[step.flow].run(m, state);
        const failedFlow = results.find((r) => !r.ok);
        ok = failedFlow === undefined;
        failed = !ok;
        status = failedFlow?.failedStatus ?? null;
        const stranded = results.reduce((n, r) => n + r.strandedPages, 0);
        if (failedFlow !== undefined)
          detail = `${failedFlow.flow}: ${failedFlow.failedStep}${failedFlow.failedStatus === null ? "" : ` -> ${failedFlow.failedStatus}`}`;
        for (const r of results) notes.push(...flowNotes(r, m, state));
        const e = step.expect;
        if (e !== null) {
          if (e.ok !== undefined) {
            if (!e.ok) declared.flowFail = true;
            expect(
              ok === e.ok,
              `flow ${step.flow} ${e.ok ? "succeeds" : "fails"} (${ok ? "succeeded" : `failed: ${detail}`})`,
            );
          }
          if (e.failedStatus !== undefined)
            expect(
              failedFlow?.failedStatus === e.failedStatus,
              `flow ${step.flow} fails with ${e.failedStatus} (got ${failedFlow?.failedStatus ?? "no failure"})`,
            );
          if (e.stranded !== undefined)
            expect(
              stranded === e.stranded,
              `flow ${step.flow} strands ${e.stranded} pages (got ${stranded})`,
            );
          ok = expectations.filter((x) => x.step === index).every((x) => x.ok);
        } else if (!ok) unexpected.push(`step ${index} (${label}) failed: ${detail}`);
        break;
      }
      case "seamcall": {
        if (step.cpu > 0) {
          const sc = step.schedule ?? { cpus: Math.max(2, step.cpu + 1), seed: 1, p: 0.5 };
          cpus ??= addCpus(m, sc);
          const inputs: Record<number, U64> = {};
          for (const [reg, v] of Object.entries(step.regs)) inputs[Number(reg)] = resolve(v);
          const call: CpuCall = { leaf: LEAF[step.leaf], inputs };
          cpus.submit(step.cpu, [call]);
          detail = `queued on CPU ${step.cpu}`;
          break;
        }
        const r = new Regs();
        r.set(REG.RAX, leafRax(LEAF[step.leaf]));
        for (const [reg, v] of Object.entries(step.regs)) r.set(Number(reg), resolve(v));
        const regsIn = r.w.slice();
        m.kernel.seamcall(r);
        const st = statusText(r.get(REG.RAX));
        status = st;
        failed = !isSuccessClass(r.get(REG.RAX));
        // The host learns what it handed over from the call's own operands and status (no RDMD).
        recordRawCall(m.kernel, regsIn, r, RAW_OPTS(m));
        if (step.expect !== null) {
          if (step.expect.status !== null)
            expect(
              st === step.expect.status ||
                u64ToHex(r.lo(REG.RAX), r.hi(REG.RAX)) === step.expect.status.toLowerCase(),
              `${step.leaf} returns ${step.expect.status} (got ${st})`,
            );
          for (const [reg, want] of Object.entries(step.expect.regs)) {
            const got = r.get(Number(reg));
            expect(
              got.lo === want.lo && got.hi === want.hi,
              `${step.leaf} returns register ${reg} = ${u64ToHex(want.lo, want.hi)} (got ${u64ToHex(got.lo, got.hi)})`,
            );
          }
        }
        break;
      }
      case "alloc": {
        const tag = `scenario:${step.name}`;
        let pages: Page[] = [];
        if (step.contiguous) {
          const first = m.alloc.allocContigPages(step.pages, { tag, zero: step.zero });
          if (first !== null) pages = Array.from({ length: step.pages }, (_, i) => first.nth(i));
        } else if (step.order > 0) {
          for (let i = 0; i < step.pages; i++) {
            const b = m.alloc.allocPages(step.order, { tag, zero: step.zero, compound: step.compound });
            if (b === null) break;
            pages.push(b);
          }
        } else pages = m.alloc.allocPagesBulk(step.pages, { tag, zero: step.zero });
        sets.set(step.name, pages);
        if (pages.length < step.pages) {
          ok = false;
          failed = true;
          detail = `got ${pages.length} of ${step.pages}`;
          unexpected.push(`step ${index} (${label}): allocation failed, ${detail}`);
        }
        break;
      }
      case "root": {
        const pages = sets.get(step.of) ?? [];
        const n = Math.min(512, pages.length);
        const a = n === 0 ? null : tdxPageArrayCreate(m.kernel, pages.slice(0, n), n);
        if (a === null) {
          ok = false;
          failed = true;
          detail = "could not build the root page";
          unexpected.push(`step ${index} (${label}): ${detail}`);
          break;
        }
        operands.set(
          step.name,
          step.format === "hpa-list-info"
            ? a.toHpaListInfo()
            : step.format === "hpa-array"
              ? a.toHpaArray()
              : a.toIommuMt(),
        );
        detail = `root page 0x${a.rootHpa.toString(16)}, ${n} entries`;
        break;
      }
      case "inject-alloc":
        if (step.nth !== null) m.alloc.failNth(m.alloc.allocCount + step.nth);
        else m.alloc.failTag(step.tag!, step.count);
        break;
      case "inject-status":
        m.module.forceStatus({
          leaf: LEAF[step.leaf],
          nth: (m.module.callsByLeaf.get(LEAF[step.leaf]) ?? 0) + step.nth,
          status: step.status,
        });
        break;
      case "interrupts":
        m.module.setInterrupts(step.plan);
        break;
      case "join": {
        if (cpus === null) {
          detail = "no other CPU";
          break;
        }
        cpus.drain();
        followOtherCpus();
        const done = cpus.results.slice(joined);
        joined = cpus.results.length;
        const busy = done.reduce((n, x) => n + x.busyRetries, 0);
        detail = `${done.length} call(s) on other CPUs, ${busy} OPERAND_BUSY retried: ${done.map((x) => `CPU ${x.cpu} ${x.leaf} ${statusText(x.status)}`).join(", ")}`;
        const e = step.expect;
        if (e !== null) {
          if (e.status !== null)
            for (const x of done)
              expect(
                statusText(x.status) === e.status,
                `CPU ${x.cpu} ${x.leaf} returns ${e.status} (got ${statusText(x.status)})`,
              );
          if (e.busyRetries !== null)
            expect(busy >= e.busyRetries, `at least ${e.busyRetries} OPERAND_BUSY retried (got ${busy})`);
        }
        break;
      }
      case "clflush": {
        // What a host does before handing pages over when the module asks (CLFLUSH_BEFORE_ALLOC).
        const pfns = coveredPfns(sets.get(step.name) ?? []);
        for (const pfn of pfns) m.kernel.cpu.clflushPage(pfn);
        detail = `${pfns.length} page(s) flushed`;
        break;
      }
      case "evict": {
        const n = m.cache.evictNow();
        detail = `${n} page(s) damaged`;
        break;
      }
      case "expect":
        checkState(m, step.expect, (cond, msg) => expect(cond, msg), declared);
        break;
    }
    // Calls of other CPUs that finished during this step: the host follows their pages now.
    followOtherCpus();
    const after = m.module.statusCounts;
    const calls = callDelta(before, after);
    let interrupts = 0;
    for (const leaf of Object.values(calls)) interrupts += leaf.TDX_INTERRUPTED_RESUMABLE ?? 0;
    const stepExpected = expectations.some((x) => x.step === index);
    phases.push({
      index,
      label,
      ok,
      outcome: failed && ok && stepExpected ? "failed-as-expected" : ok ? "ok" : "failed",
      status,
      detail,
      notes,
      calls,
      // The runner issues no SEAMCALL of its own: a raw call's hand-over is recorded from its operands
      // and status (ledger `raw-call-ledger`). The field stays in the report's shape (schemaVersion 1).
      bookkeepingCalls: 0,
      interrupts,
      hazards: m.cache.hazards.length - hazardsBefore,
      pages: pageStates(m),
    });
    events && opts.onEvent!({ type: "phase", t: events.now(), name: label, edge: "end" });
    opts.progress?.(index + 1, s.steps.length, label);
  }
  // Calls still queued on other CPUs run to their end before the final checks (as a join would).
  if (cpus !== null && cpus.pending > 0) {
    cpus.drain();
    followOtherCpus();
  }

  opts.onDone?.(m);
  // End of run: the cache sweep (private lines left on pages the module gave back; stranded pages are
  // never reused), and after a teardown of flows only, the host must hold no page (src/observe/judge.ts).
  m.cache.sweep((pfn) => m.kernel.ledger.stranded.has(pfn));
  const flowsOnly = s.steps.every((x) => x.kind !== "alloc" && x.kind !== "root");
  const tornDown = s.steps.some((x) => x.kind === "flow" && x.flow === "teardown");
  const conservation = checkConservation(m, { endOfTeardown: flowsOnly && tornDown });
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

/** Hazards ordered by PFN, then kind, then cause (a stable order to read and to compare runs by). */
export function sortHazards(hs: readonly Hazard[]): Hazard[] {
  return [...hs].sort(
    (a, b) =>
      a.pfn - b.pfn ||
      (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) ||
      (a.cause < b.cause ? -1 : a.cause > b.cause ? 1 : 0),
  );
}

/**
 * Explanations of flow results that look like failures in a clean run. TDH.IOMMU.SETUP on a unit that is
 * not TDX-capable returns TDX_OPERAND_INVALID(RCX) and rolls back; the host probes every unit that way
 * and skips the refused ones (docs/spec/02-kapi.md 2.5, IOMMU).
 */
function flowNotes(r: FlowResult, m: Machine, state: FlowState): string[] {
  const skipped = Number(r.details.unitsSkipped ?? 0);
  if (skipped === 0) return [];
  const setUp = new Set(state.iommus.map((u) => u.name));
  const names = m.platform.iommus
    .filter((u) => !setUp.has(u.name))
    .map((u) => u.name)
    .join(", ");
  return [
    `TDH.IOMMU.SETUP TDX_OPERAND_INVALID(RCX) x${skipped}: the probe of ${skipped === 1 ? "a unit" : "units"} that ${skipped === 1 ? "is" : "are"} not TDX-capable (${names}); the module refused ${skipped === 1 ? "it" : "them"}, the host skipped ${skipped === 1 ? "it" : "them"}`,
  ];
}

function checkState(
  m: Machine,
  e: StateExpect,
  expect: (cond: boolean, msg: string) => void,
  declared: { hazards: boolean; reports: boolean; conservationFail: boolean },
): void {
  if (e.hazards !== undefined) {
    if (typeof e.hazards === "number") {
      if (e.hazards > 0) declared.hazards = true;
      expect(m.cache.hazards.length === e.hazards, `${e.hazards} hazard(s) (got ${m.cache.hazards.length})`);
    } else {
      for (const [kind, n] of Object.entries(e.hazards)) {
        if (n > 0) declared.hazards = true;
        const got = m.cache.hazards.filter((h) => h.kind === kind).length;
        expect(got === n, `${n} ${kind} hazard(s) (got ${got})`);
      }
    }
  }
  if (e.reports !== undefined) {
    if (e.reports > 0) declared.reports = true;
    expect(
      m.module.reports.length === e.reports,
      `${e.reports} model report(s) (got ${m.module.reports.length})`,
    );
  }
  if (e.damagedPages !== undefined)
    expect(
      m.cache.stats.damagedPages === e.damagedPages,
      `${e.damagedPages} damaged page(s) (got ${m.cache.stats.damagedPages})`,
    );
  if (e.conservation !== undefined || e.pages !== undefined) {
    const c = checkConservation(m);
    if (e.conservation === "fail") declared.conservationFail = true;
    if (e.conservation !== undefined)
      expect(
        c.ok === (e.conservation === "ok"),
        `conservation ${e.conservation} (got ${c.ok ? "ok" : `fail: ${c.violations[0]}`})`,
      );
    for (const [k, n] of Object.entries(e.pages ?? {})) {
      const got = c.totals[k as keyof typeof c.totals];
      expect(got === n, `${n} page(s) ${k} (got ${got})`);
    }
  }
}

/** MiB of `pages` 4 KiB pages. */
export function mib(pages: number): number {
  return pages / 256;
}
