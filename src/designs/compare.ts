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
import { buildMachine, createMachine, type Machine } from "../machine.js";
import type { Behaviours, InterruptPlan } from "../module/behaviours.js";
import { checkConservation } from "../observe/conservation.js";
import { DESIGN_FLOWS, type Design, type DesignFlow, type FlowOutcome, isUnsupported } from "./design.js";
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

/**
 * Platform objects a running {@link compareDesigns} has seen validated (null outside one): within that
 * synchronous call nobody changes them, so each is validated by its first machine only. Runs started
 * from elsewhere (runFlow and runFault called directly) validate every time.
 */
let validated: WeakSet<Platform> | null = null;

function machineFor(d: Design, s: MachineSetup): Machine {
  const build = validated?.has(s.platform) === true ? buildMachine : createMachine;
  const m = build(s.platform, {
    ...(s.behaviours === undefined ? {} : { behaviours: s.behaviours }),
    ...(s.interrupts === undefined ? {} : { interrupts: s.interrupts }),
    ...(d.policy === undefined ? {} : { policy: d.policy }),
  });
  validated?.add(s.platform);
  return m;
}

/** What {@link runFlow} recorded for injection: the leaf and per-leaf count of every SEAMCALL. */
export interface Recorded {
  readonly figures: FlowFigures;
  readonly calls: readonly { leaf: number; nth: number }[];
  /** False when the fault was never reached (the run diverged before it). */
  readonly fired: boolean;
}

/** The outcome of {@link execute}: the machine after the flow and what was recorded on the way. */
interface Executed {
  readonly machine: Machine;
  readonly out: FlowOutcome;
  readonly a0: number;
  readonly seq0: number;
  readonly c0: { readonly clflushes: number; readonly pageWbinvds: number };
  readonly h0: number;
  readonly pagesAllocated: number;
  readonly rootPages: number;
  readonly peak: number;
  readonly calls: readonly { leaf: number; nth: number }[];
  readonly fired: boolean;
}

/**
 * Runs `flow` of `d` once on a fresh machine with at most one `fault`. Only a run that wants all the
 * figures (`figures`: every field of {@link FlowFigures} and the clean run's SEAMCALL list) wraps the
 * allocator hook to count pages by tag and records the SEAMCALL list: the fault runs and the CLFLUSH
 * experiment read neither, and the per-tag counts cost a walk of the allocator's tags per allocation.
 */
function execute(
  d: Design,
  flow: DesignFlow,
  s: MachineSetup,
  fault: Fault | null,
  usedMemory: boolean,
  figures: boolean,
): Executed {
  const impl = d.flows[flow];
  if (isUnsupported(impl)) throw new Error(`design ${d.name} cannot run flow ${flow}: ${impl.unsupported}`);
  const machine = machineFor(d, s);
  const a0 = machine.alloc.allocCount;
  const seq0 = machine.module.seq;
  const c0 = { clflushes: machine.cache.stats.clflushes, pageWbinvds: machine.cache.stats.pageWbinvds };
  const h0 = machine.cache.hazardCount;
  let pagesAllocated = 0;
  let rootPages = 0;
  let peak = 0;
  const hooks = machine.alloc.hooks;
  if (figures) {
    const roots = new Set(d.rootTags);
    const extra = [...d.rootTags, ...d.metaTags];
    // The same three keys in the same order as the machine's hooks (not a spread, whose object V8 gives
    // another map: the allocator's calls through `hooks` were deoptimised for it, issue 15).
    machine.alloc.hooks = {
      onZero: hooks.onZero,
      onFree: hooks.onFree,
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
  } else if (usedMemory) {
    machine.alloc.hooks = {
      onZero: hooks.onZero,
      onFree: hooks.onFree,
      onAlloc: (pfn, pages, tag) => {
        hooks.onAlloc?.(pfn, pages, tag);
        for (let i = 0; i < pages; i++) machine.cache.hostAccess(pfn + i, true);
      },
    };
  }
  const calls: { leaf: number; nth: number }[] = [];
  if (fault === null) {
    if (figures)
      machine.module.onCall = (r) => {
        const nth = machine.module.callsByLeaf.get(r.leaf);
        if (nth !== undefined) calls.push({ leaf: r.leaf, nth });
      };
  } else if ("alloc" in fault) machine.alloc.failNth(a0 + fault.alloc);
  else machine.module.forceStatus({ leaf: fault.leaf, nth: fault.nth, status: INJECTED_STATUS });
  const out = impl(machine);
  machine.module.onCall = null;
  const fired =
    fault === null ||
    ("alloc" in fault
      ? machine.alloc.injectedFailures > 0
      : (machine.module.callsByLeaf.get(fault.leaf) ?? 0) >= fault.nth);
  return { machine, out, a0, seq0, c0, h0, pagesAllocated, rootPages, peak, calls, fired };
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
  const x = execute(d, flow, s, fault, usedMemory, true);
  const machine = x.machine;
  const cons = checkConservation(machine);
  const figures: FlowFigures = {
    ok: x.out.ok,
    failedStep: x.out.failedStep,
    allocations: machine.alloc.allocCount - x.a0,
    pagesAllocated: x.pagesAllocated,
    rootPages: x.rootPages,
    peakExtraPages: x.peak,
    seamcalls: machine.module.seq - x.seq0,
    clflushes: machine.cache.stats.clflushes - x.c0.clflushes,
    writeBacks: machine.cache.stats.pageWbinvds - x.c0.pageWbinvds,
    hazards: machine.cache.hazardCount - x.h0,
    strandedPages: machine.kernel.ledger.stranded.size,
    hostHeldPages: cons.totals.hostHeld,
    reports: machine.module.reports.length,
    conservationOk: cons.ok,
  };
  return { figures, calls: x.calls, fired: x.fired };
}

/** What {@link injectFlow} sums of one fault run (the other figures of a run are not read). */
interface FaultRun {
  readonly fired: boolean;
  readonly strandedPages: number;
  readonly hazards: number;
  readonly hostHeldPages: number;
  readonly conservationOk: boolean;
}

/** One single-fault run of {@link injectFlow}: measures only what the injection sums. */
export function runFault(d: Design, flow: DesignFlow, s: MachineSetup, fault: Fault): FaultRun {
  const x = execute(d, flow, s, fault, false, false);
  const cons = checkConservation(x.machine);
  return {
    fired: x.fired,
    strandedPages: x.machine.kernel.ledger.stranded.size,
    hazards: x.machine.cache.hazardCount - x.h0,
    hostHeldPages: cons.totals.hostHeld,
    conservationOk: cons.ok,
  };
}

/**
 * The CLFLUSHes and cache hazards of one clean extensions run, as the CLFLUSH experiment reads them:
 * no conservation check (the experiment reports none; at a 1,048,576-page pool the check costs as
 * much as the flow).
 */
export function runCacheFigures(
  d: Design,
  s: MachineSetup,
  usedMemory: boolean,
): { readonly clflushes: number; readonly hazards: number } {
  const x = execute(d, "extensions", s, null, usedMemory, false);
  return {
    clflushes: x.machine.cache.stats.clflushes - x.c0.clflushes,
    hazards: x.machine.cache.hazardCount - x.h0,
  };
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
    const r = runFault(d, flow, s, f);
    if (r.fired) covered++;
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
  const outer = validated;
  validated = new WeakSet();
  try {
    return compareAll(o);
  } finally {
    validated = outer;
  }
}

function compareAll(o: CompareOptions): Comparison {
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
    designs.forEach((d, i) => {
      if (isUnsupported(d.flows.extensions) || d.policy !== undefined) return;
      // With the flag already on, the fresh run is the clean extensions run of the table: same platform,
      // behaviours, interrupts and policy on a fresh machine, so the same figures (the runs are
      // deterministic); it is not run again.
      const cell = reports[i]!.flows.extensions;
      const fresh =
        o.platform.clflushBeforeAlloc && cell.supported ? cell.clean : runCacheFigures(d, on, false);
      clflush.push({
        design: d.name,
        clflushes: fresh.clflushes,
        freshOn: fresh.hazards,
        usedOn: runCacheFigures(d, on, true).hazards,
        usedOff: runCacheFigures(d, off, true).hazards,
      });
    });
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
