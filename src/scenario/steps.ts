/**
 * The step kinds of a scenario, one handler each: its label in reports and what it does to the machine.
 * {@link STEP_HANDLERS} is keyed by every `Step["kind"]` (a kind without a handler does not compile);
 * the runner (`runner.ts`) looks a step's handler up there and reports what it recorded.
 */
import { MAX_ENTRIES } from "../common/formats.js";
import { callRegs } from "../common/seamcall.js";
import { isSuccessClass, LEAF, REG, statusText } from "../common/status.js";
import { type U64, u64ToHex } from "../common/u64.js";
import type { CpuCall } from "../host/cpus.js";
import type { FlowResult } from "../host/flows/result.js";
import { coveredPfns, type Page } from "../host/page.js";
import { tdxPageArrayCreate } from "../host/page-array.js";
import type { Machine } from "../machine.js";
import { checkConservation } from "../observe/conservation.js";
import { FLOWS, type FlowState } from "./flows.js";
import { recordRawCall } from "./raw-handover.js";
import { type Declared, type RunState, rawOpts } from "./run-state.js";
import type { StateExpect, Step } from "./schema.js";

/** What one step did, as its handler records it. */
export class StepRun {
  ok = true;
  /** The step itself failed (a flow or an allocation failed, a SEAMCALL returned an error). */
  failed = false;
  status: string | null = null;
  detail: string | null = null;
  readonly notes: string[] = [];

  constructor(
    readonly run: RunState,
    readonly index: number,
    readonly label: string,
  ) {}

  /** Records an expectation of this step and its verdict. */
  expect(cond: boolean, message: string): void {
    this.run.expectations.push({ step: this.index, ok: cond, message });
    if (!cond) this.ok = false;
  }

  /** Marks the step failed with `detail`, a finding no expectation declared. */
  failUnexpectedly(detail: string, finding: string): void {
    this.ok = false;
    this.failed = true;
    this.detail = detail;
    this.run.unexpected.push(`step ${this.index} (${this.label})${finding}`);
  }
}

/** One step kind: its label and what it does. */
export interface StepHandler<S extends Step> {
  readonly label: (s: S) => string;
  readonly run: (r: StepRun, s: S) => void;
}

/** A handler for every step kind. */
export type StepHandlers = { readonly [K in Step["kind"]]: StepHandler<Extract<Step, { kind: K }>> };

type StepOf<K extends Step["kind"]> = Extract<Step, { kind: K }>;

function runFlow(r: StepRun, step: StepOf<"flow">): void {
  const { m, flows: state, declared } = r.run;
  const results: FlowResult[] = FLOWS[step.flow].run(m, state);
  const failedFlow = results.find((x) => !x.ok);
  r.ok = failedFlow === undefined;
  r.failed = !r.ok;
  r.status = failedFlow?.failedStatus ?? null;
  const stranded = results.reduce((n, x) => n + x.strandedPages, 0);
  if (failedFlow !== undefined)
    r.detail = `${failedFlow.flow}: ${failedFlow.failedStep}${failedFlow.failedStatus === null ? "" : ` -> ${failedFlow.failedStatus}`}`;
  for (const x of results) r.notes.push(...flowNotes(x, m, state));
  const e = step.expect;
  if (e !== null) {
    const ok = r.ok;
    if (e.ok !== undefined) {
      if (!e.ok) declared.flowFail = true;
      r.expect(
        ok === e.ok,
        `flow ${step.flow} ${e.ok ? "succeeds" : "fails"} (${ok ? "succeeded" : `failed: ${r.detail}`})`,
      );
    }
    if (e.failedStatus !== undefined)
      r.expect(
        failedFlow?.failedStatus === e.failedStatus,
        `flow ${step.flow} fails with ${e.failedStatus} (got ${failedFlow?.failedStatus ?? "no failure"})`,
      );
    if (e.stranded !== undefined)
      r.expect(stranded === e.stranded, `flow ${step.flow} strands ${e.stranded} pages (got ${stranded})`);
    // With expectations, the step is ok when they all hold (a failure it expected is not a problem).
    r.ok = r.run.expectations.filter((x) => x.step === r.index).every((x) => x.ok);
  } else if (!r.ok) r.run.unexpected.push(`step ${r.index} (${r.label}) failed: ${r.detail}`);
}

/** A SEAMCALL on another CPU: queued there, run interleaved, checked by a join step. */
function queueSeamcall(r: StepRun, step: StepOf<"seamcall">): void {
  const cpus = r.run.cpusFor(step.schedule ?? { cpus: Math.max(2, step.cpu + 1), seed: 1, p: 0.5 });
  const inputs: Record<number, U64> = {};
  for (const [reg, v] of Object.entries(step.regs)) inputs[Number(reg)] = r.run.resolve(v);
  const call: CpuCall = { leaf: LEAF[step.leaf], inputs };
  cpus.submit(step.cpu, [call]);
  r.detail = `queued on CPU ${step.cpu}`;
}

function runSeamcall(r: StepRun, step: StepOf<"seamcall">): void {
  if (step.cpu > 0) {
    queueSeamcall(r, step);
    return;
  }
  const { m } = r.run;
  const regs = callRegs(
    LEAF[step.leaf],
    Object.fromEntries(Object.entries(step.regs).map(([reg, v]) => [reg, r.run.resolve(v)])),
  );
  const regsIn = regs.w.slice();
  m.kernel.seamcall(regs);
  const st = statusText(regs.get(REG.RAX));
  r.status = st;
  r.failed = !isSuccessClass(regs.get(REG.RAX));
  // The host learns what it handed over from the call's own operands and status (no RDMD).
  recordRawCall(m.kernel, regsIn, regs, rawOpts(m));
  if (step.expect === null) return;
  if (step.expect.status !== null)
    r.expect(
      st === step.expect.status ||
        u64ToHex(regs.lo(REG.RAX), regs.hi(REG.RAX)) === step.expect.status.toLowerCase(),
      `${step.leaf} returns ${step.expect.status} (got ${st})`,
    );
  for (const [reg, want] of Object.entries(step.expect.regs)) {
    const got = regs.get(Number(reg));
    r.expect(
      got.lo === want.lo && got.hi === want.hi,
      `${step.leaf} returns register ${reg} = ${u64ToHex(want.lo, want.hi)} (got ${u64ToHex(got.lo, got.hi)})`,
    );
  }
}

function runAlloc(r: StepRun, step: StepOf<"alloc">): void {
  const { m } = r.run;
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
  r.run.sets.set(step.name, pages);
  if (pages.length < step.pages) {
    const detail = `got ${pages.length} of ${step.pages}`;
    r.failUnexpectedly(detail, `: allocation failed, ${detail}`);
  }
}

function runRoot(r: StepRun, step: StepOf<"root">): void {
  const pages = r.run.sets.get(step.of) ?? [];
  const n = Math.min(MAX_ENTRIES, pages.length);
  const a = n === 0 ? null : tdxPageArrayCreate(r.run.m.kernel, pages.slice(0, n), n);
  if (a === null) {
    const detail = "could not build the root page";
    r.failUnexpectedly(detail, `: ${detail}`);
    return;
  }
  r.run.operands.set(
    step.name,
    step.format === "hpa-list-info"
      ? a.toHpaListInfo()
      : step.format === "hpa-array"
        ? a.toHpaArray()
        : a.toIommuMt(),
  );
  r.detail = `root page 0x${a.rootHpa.toString(16)}, ${n} entries`;
}

function runJoin(r: StepRun, step: StepOf<"join">): void {
  const run = r.run;
  const cpus = run.cpus;
  if (cpus === null) {
    r.detail = "no other CPU";
    return;
  }
  cpus.drain();
  run.followOtherCpus();
  const done = cpus.results.slice(run.joined);
  run.joined = cpus.results.length;
  const busy = done.reduce((n, x) => n + x.busyRetries, 0);
  r.detail = `${done.length} call(s) on other CPUs, ${busy} OPERAND_BUSY retried: ${done.map((x) => `CPU ${x.cpu} ${x.leaf} ${statusText(x.status)}`).join(", ")}`;
  const e = step.expect;
  if (e === null) return;
  if (e.status !== null)
    for (const x of done)
      r.expect(
        statusText(x.status) === e.status,
        `CPU ${x.cpu} ${x.leaf} returns ${e.status} (got ${statusText(x.status)})`,
      );
  if (e.busyRetries !== null)
    r.expect(busy >= e.busyRetries, `at least ${e.busyRetries} OPERAND_BUSY retried (got ${busy})`);
}

function interruptsLabel(s: StepOf<"interrupts">): string {
  const p = s.plan;
  return `interrupts ${p.kind === "every" ? `every ${p.k}` : p.kind === "random" ? `random p=${p.p} seed=${p.seed}` : "none"}`;
}

function allocLabel(s: StepOf<"alloc">): string {
  return `alloc ${s.name} (${s.pages}${s.order > 0 ? ` x order ${s.order}${s.compound ? "" : " non-compound"}` : ""}${s.contiguous ? ", contiguous" : ""})`;
}

/** Every step kind's handler. */
export const STEP_HANDLERS: StepHandlers = {
  flow: { label: (s) => `flow ${s.flow}`, run: runFlow },
  seamcall: { label: (s) => `seamcall ${s.leaf}${s.cpu > 0 ? ` on CPU ${s.cpu}` : ""}`, run: runSeamcall },
  join: { label: () => "join the other CPUs", run: runJoin },
  alloc: { label: allocLabel, run: runAlloc },
  root: { label: (s) => `root ${s.name} (${s.format} of ${s.of})`, run: runRoot },
  "inject-alloc": {
    label: (s) =>
      s.nth !== null
        ? `inject allocation ${s.nth} fails`
        : `inject ${s.count} allocation(s) tagged ${s.tag} fail`,
    run: (r, s) => {
      const alloc = r.run.m.alloc;
      if (s.nth !== null) alloc.failNth(alloc.allocCount + s.nth);
      else alloc.failTag(s.tag!, s.count);
    },
  },
  "inject-status": {
    label: (s) => `inject ${statusText(s.status)} on ${s.leaf} call ${s.nth}`,
    run: (r, s) => {
      const mod = r.run.m.module;
      mod.forceStatus({
        leaf: LEAF[s.leaf],
        nth: (mod.callsByLeaf.get(LEAF[s.leaf]) ?? 0) + s.nth,
        status: s.status,
      });
    },
  },
  interrupts: { label: interruptsLabel, run: (r, s) => r.run.m.module.setInterrupts(s.plan) },
  evict: {
    label: () => "evict now",
    run: (r) => {
      r.detail = `${r.run.m.cache.evictNow()} page(s) damaged`;
    },
  },
  clflush: {
    label: (s) => `clflush ${s.name}`,
    run: (r, s) => {
      // What a host does before handing pages over when the module asks (CLFLUSH_BEFORE_ALLOC).
      const pfns = coveredPfns(r.run.sets.get(s.name) ?? []);
      for (const pfn of pfns) r.run.m.kernel.cpu.clflushPage(pfn);
      r.detail = `${pfns.length} page(s) flushed`;
    },
  },
  expect: {
    label: () => "expect",
    run: (r, s) => checkState(r.run.m, s.expect, (cond, msg) => r.expect(cond, msg), r.run.declared),
  },
};

/** A step's handler, typed for its kind. */
export function handlerOf<S extends Step>(s: S): StepHandler<S> {
  return STEP_HANDLERS[s.kind] as unknown as StepHandler<S>;
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
  declared: Omit<Declared, "flowFail">,
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
