/**
 * The design comparison (docs/spec/02-kapi.md 2.7): every design through the same flows on the same platform,
 * each flow on a fresh machine, with the figures measured from the machine (allocator, cache model,
 * module, ledger), never declared by the design. Then, per flow, the full single-fault injection: the
 * clean run counts the flow's allocation calls and SEAMCALLs; for each one a fresh machine where
 * exactly that one fails (the allocation returns null, the SEAMCALL returns {@link INJECTED_STATUS}
 * without effect); the stranded pages, hazards, pages the host still holds and conservation failures of
 * all those runs are summed.
 *
 * Core code: no Node APIs. The CLI (src/cli/compare.ts) adds the source-size figures and printing.
 */
import { STATUS } from "../common/status.js";
import type { U64 } from "../common/u64.js";
import type { Platform } from "../hw/platform.js";
import { createMachine, type Machine } from "../machine.js";
import type { Behaviours, InterruptPlan } from "../module/behaviours.js";
import { checkConservation } from "../observe/conservation.js";
import { DESIGN_FLOWS, type Design, type DesignFlow, isUnsupported } from "./design.js";
import { DRAFT_DESIGN, DRAFT_HEAD_PAGE_ONLY } from "./draft.js";
import { HPA_LIST_DESIGN } from "./hpa-list.js";
import { SPLIT_DESIGN } from "./split.js";
import { V2_DESIGN } from "./v2.js";

/** Every design, in column order. */
export const DESIGNS: readonly Design[] = Object.freeze([
  V2_DESIGN,
  DRAFT_DESIGN,
  DRAFT_HEAD_PAGE_ONLY,
  SPLIT_DESIGN,
  HPA_LIST_DESIGN,
]);

/** The status an injected SEAMCALL fault returns: a non-recoverable refusal. */
export const INJECTED_STATUS: U64 = Object.freeze({ lo: 0, hi: STATUS.TDX_OP_STATE_INCORRECT.hi });

/** What every machine of a comparison is built from. */
export interface MachineSetup {
  readonly platform: Platform;
  readonly behaviours?: Partial<Behaviours>;
  readonly interrupts?: InterruptPlan;
}

/** One fault: the nth allocation call fails, or the nth call of a leaf returns {@link INJECTED_STATUS}. */
export type Fault = { readonly alloc: number } | { readonly leaf: number; readonly nth: number };

/** Figures of one run of one flow. */
export interface FlowFigures {
  readonly ok: boolean;
  readonly failedStep: string | null;
  /** Allocator calls (a bulk call counts one per page, as the allocator does). */
  readonly allocations: number;
  readonly pagesAllocated: number;
  /** Root pages allocated (allocations tagged as the design's roots). */
  readonly rootPages: number;
  /** Most pages the design held for itself at once (roots, pointer arrays), beyond the data pages. */
  readonly peakExtraPages: number;
  readonly seamcalls: number;
  readonly clflushes: number;
  /** TDH.PHYMEM.PAGE.WBINVD calls. */
  readonly writeBacks: number;
  readonly hazards: number;
  readonly strandedPages: number;
  /** Pages still held by the host at the end, neither donated nor stranded (a flow frees everything). */
  readonly hostHeldPages: number;
  /** Model reports (e.g. a DELETE whose released list was short). */
  readonly reports: number;
  readonly conservationOk: boolean;
}

/** Sums of the single-fault runs of one flow. */
export interface InjectionFigures {
  readonly allocPoints: number;
  readonly seamcallPoints: number;
  /** Points whose fault really fired. */
  readonly covered: number;
  readonly strandedPages: number;
  readonly hazards: number;
  readonly hostHeldPages: number;
  readonly conservationFailures: number;
}

/** One cell of the comparison. */
export type FlowColumn =
  | { readonly supported: true; readonly clean: FlowFigures; readonly injection: InjectionFigures | null }
  | { readonly supported: false; readonly reason: string };

/** One design's column. */
export interface DesignReport {
  readonly name: string;
  readonly description: string;
  readonly sources: readonly string[];
  readonly sharedSources: readonly string[];
  readonly flows: Readonly<Record<DesignFlow, FlowColumn>>;
}

/** The CLFLUSH_BEFORE_ALLOC experiment: extension-flow hazards by memory history and module flag. */
export interface ClflushRow {
  readonly design: string;
  readonly clflushes: number;
  /** Fresh machine (never-used pages), flag on. */
  readonly freshOn: number;
  /** Host-used memory (every page handed out dirty under KeyID 0), flag on. */
  readonly usedOn: number;
  /** Host-used memory, flag off. */
  readonly usedOff: number;
}

/** The whole comparison. */
export interface Comparison {
  readonly platform: string;
  readonly poolPages: number;
  /** Pool size the injection runs used (null when injection was off). */
  readonly injectionPoolPages: number | null;
  readonly clflushBeforeAlloc: boolean;
  readonly designs: readonly DesignReport[];
  readonly clflush: readonly ClflushRow[];
}

/** Options of {@link compareDesigns}. */
export interface CompareOptions extends MachineSetup {
  readonly designs?: readonly Design[];
  readonly flows?: readonly DesignFlow[];
  /** Run the single-fault injection (default true). */
  readonly injection?: boolean;
  /** MEMORY_POOL_REQUIRED_PAGES of the injection runs (default min(platform, 2048)). */
  readonly injectionPoolPages?: number;
  /** Run the CLFLUSH experiment (default true). */
  readonly clflushExperiment?: boolean;
  /** Called after each design's flow: flows done, flows total, "design / flow". */
  readonly progress?: (done: number, total: number, label: string) => void;
}

/** A platform with another extension pool size. */
export function withPoolPages(p: Platform, pages: number): Platform {
  return { ...p, metadata: { ...p.metadata, MEMORY_POOL_REQUIRED_PAGES: pages } };
}

function machineFor(d: Design, s: MachineSetup): Machine {
  return createMachine(s.platform, {
    ...(s.behaviours === undefined ? {} : { behaviours: s.behaviours }),
    ...(s.interrupts === undefined ? {} : { interrupts: s.interrupts }),
    ...(d.policy === undefined ? {} : { policy: d.policy }),
  });
}

/** What {@link runFlow} recorded for injection: the leaf and per-leaf count of every SEAMCALL. */
export interface Recorded {
  readonly figures: FlowFigures;
  readonly calls: readonly { leaf: number; nth: number }[];
  /** False when the fault was never reached (the run diverged before it). */
  readonly fired: boolean;
}

/**
 * Runs `flow` of `d` once on a fresh machine, with at most one `fault`, and measures it. `usedMemory`:
 * every page the allocator hands out carries dirty KeyID-0 lines of its previous user (memory the host
 * has written and freed before), instead of the fresh machine's clean never-used pages.
 */
export function runFlow(
  d: Design,
  flow: DesignFlow,
  s: MachineSetup,
  fault: Fault | null = null,
  usedMemory = false,
): Recorded {
  const impl = d.flows[flow];
  if (isUnsupported(impl)) throw new Error(`design ${d.name} cannot run flow ${flow}: ${impl.unsupported}`);
  const machine = machineFor(d, s);
  const roots = new Set(d.rootTags);
  const extra = [...d.rootTags, ...d.metaTags];
  const a0 = machine.alloc.allocCount;
  const seq0 = machine.module.seq;
  const c0 = { ...machine.cache.stats };
  const h0 = machine.cache.hazards.length;
  let pagesAllocated = 0;
  let rootPages = 0;
  let peak = 0;
  const hooks = machine.alloc.hooks;
  machine.alloc.hooks = {
    ...hooks,
    onAlloc: (pfn, pages, tag) => {
      hooks.onAlloc?.(pfn, pages, tag);
      if (usedMemory) for (let i = 0; i < pages; i++) machine.cache.hostAccess(pfn + i, true);
      pagesAllocated += pages;
      if (roots.has(tag)) rootPages++;
      if (extra.includes(tag)) {
        const byTag = machine.alloc.stats().byTag;
        peak = Math.max(
          peak,
          extra.reduce((n, t) => n + (byTag[t] ?? 0), 0),
        );
      }
    },
  };
  const calls: { leaf: number; nth: number }[] = [];
  if (fault === null) {
    machine.module.onCall = (r) => {
      const nth = machine.module.callsByLeaf.get(r.leaf);
      if (nth !== undefined) calls.push({ leaf: r.leaf, nth });
    };
  } else if ("alloc" in fault) machine.alloc.failNth(a0 + fault.alloc);
  else machine.module.forceStatus({ leaf: fault.leaf, nth: fault.nth, status: INJECTED_STATUS });
  const out = impl(machine);
  machine.module.onCall = null;
  const cons = checkConservation(machine);
  const figures: FlowFigures = {
    ok: out.ok,
    failedStep: out.failedStep,
    allocations: machine.alloc.allocCount - a0,
    pagesAllocated,
    rootPages,
    peakExtraPages: peak,
    seamcalls: machine.module.seq - seq0,
    clflushes: machine.cache.stats.clflushes - c0.clflushes,
    writeBacks: machine.cache.stats.pageWbinvds - c0.pageWbinvds,
    hazards: machine.cache.hazards.length - h0,
    strandedPages: machine.kernel.ledger.stranded.size,
    hostHeldPages: cons.totals.hostHeld,
    reports: machine.module.reports.length,
    conservationOk: cons.ok,
  };
  const fired =
    fault === null ||
    ("alloc" in fault
      ? machine.alloc.injectedFailures > 0
      : (machine.module.callsByLeaf.get(fault.leaf) ?? 0) >= fault.nth);
  return { figures, calls, fired };
}

/** The full single-fault injection of one flow (see the file's doc). */
export function injectFlow(d: Design, flow: DesignFlow, s: MachineSetup): InjectionFigures {
  const clean = runFlow(d, flow, s);
  const faults: Fault[] = [];
  for (let i = 1; i <= clean.figures.allocations; i++) faults.push({ alloc: i });
  for (const c of clean.calls) faults.push(c);
  let covered = 0;
  let strandedPages = 0;
  let hazards = 0;
  let hostHeldPages = 0;
  let conservationFailures = 0;
  for (const f of faults) {
    const run = runFlow(d, flow, s, f);
    const r = run.figures;
    if (run.fired) covered++;
    strandedPages += r.strandedPages;
    hazards += r.hazards;
    hostHeldPages += r.hostHeldPages;
    if (!r.conservationOk) conservationFailures++;
  }
  return {
    allocPoints: clean.figures.allocations,
    seamcallPoints: clean.calls.length,
    covered,
    strandedPages,
    hazards,
    hostHeldPages,
    conservationFailures,
  };
}

/**
 * Runs every design through every flow. Clean figures use the platform as given; the injection runs
 * use a pool of `injectionPoolPages` (default min(platform value, 2048)) to keep the run short.
 */
export function compareDesigns(o: CompareOptions): Comparison {
  const designs = o.designs ?? DESIGNS;
  const flows = o.flows ?? DESIGN_FLOWS;
  const poolPages = o.platform.metadata.MEMORY_POOL_REQUIRED_PAGES;
  const injPool = o.injectionPoolPages ?? Math.min(poolPages, 2048);
  const injSetup: MachineSetup = { ...o, platform: withPoolPages(o.platform, injPool) };
  const injection = o.injection !== false;
  const total = designs.length * DESIGN_FLOWS.filter((f) => flows.includes(f)).length;
  let done = 0;
  const reports = designs.map((d): DesignReport => {
    const cells = {} as Record<DesignFlow, FlowColumn>;
    for (const f of DESIGN_FLOWS) {
      const impl = d.flows[f];
      if (!flows.includes(f)) continue;
      o.progress?.(done++, total, `${d.name} / ${f}`);
      if (isUnsupported(impl)) {
        cells[f] = { supported: false, reason: impl.unsupported };
        continue;
      }
      cells[f] = {
        supported: true,
        clean: runFlow(d, f, o).figures,
        injection: injection ? injectFlow(d, f, injSetup) : null,
      };
    }
    return {
      name: d.name,
      description: d.description,
      sources: d.sources,
      sharedSources: d.sharedSources,
      flows: cells,
    };
  });
  const clflush: ClflushRow[] = [];
  if (o.clflushExperiment !== false && flows.includes("extensions")) {
    const on = { ...o, platform: { ...o.platform, clflushBeforeAlloc: true } };
    const off = { ...o, platform: { ...o.platform, clflushBeforeAlloc: false } };
    for (const d of designs) {
      if (isUnsupported(d.flows.extensions) || d.policy !== undefined) continue;
      const fresh = runFlow(d, "extensions", on).figures;
      clflush.push({
        design: d.name,
        clflushes: fresh.clflushes,
        freshOn: fresh.hazards,
        usedOn: runFlow(d, "extensions", on, null, true).figures.hazards,
        usedOff: runFlow(d, "extensions", off, null, true).figures.hazards,
      });
    }
  }
  return {
    platform: o.platform.name,
    poolPages,
    injectionPoolPages: injection ? injPool : null,
    clflushBeforeAlloc: o.platform.clflushBeforeAlloc,
    designs: reports,
    clflush,
  };
}
