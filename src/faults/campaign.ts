/**
 * Exhaustive fault injection over the named flows (src/scenario/flows.ts): every allocation and every
 * SEAMCALL a clean run makes is an injection point; each point is run alone on a fresh machine (every
 * allocation fails in turn; every call fails in turn with every failing status its leaf can return,
 * from `fault-table.ts`), then seeded random schedules of several faults. After each flow of every run
 * the model's conservation check (src/observe/conservation.ts) must hold; a correct host must also cause
 * no cache hazard and no model report, must never throw, and must report every page it strands
 * (docs/spec/02-kapi.md 2.6).
 *
 * The default sequence is `bring-up` then `teardown` on the default platform with the extension pool
 * cut to 1024 pages (MEMORY_POOL_REQUIRED_PAGES; 2 EXT.MEM.ADD chunks instead of 25), to keep each run
 * short: the pool size changes how many pages a failure strands, not which error paths run.
 *
 * Core code: no Node APIs. `fuzz/index.ts` and `test/faults/faults.test.ts` drive it.
 */
import { isTdxpaError } from "../common/errors.js";
import { Rng } from "../common/rng.js";
import { LEAF, leafName, statusText } from "../common/status.js";
import type { U64 } from "../common/u64.js";
import type { FlowResult } from "../host/flows/result.js";
import { defaultPlatform, type Platform } from "../hw/platform.js";
import { createMachine, type Machine, type MachineOptions } from "../machine.js";
import { checkConservation } from "../observe/conservation.js";
import { judgeEndOfTeardown } from "../observe/judge.js";
import { FLOWS, type FlowState, isFlowName } from "../scenario/flows.js";
import { type FailingStatus, failingStatuses, statusValue } from "./fault-table.js";

/** What a fault-injection campaign runs. */
export interface FaultConfig {
  readonly platform: Platform;
  /** Named flows, in order (names of {@link FLOWS}). */
  readonly flows: readonly string[];
  readonly machine?: MachineOptions;
}

/**
 * The default campaign: `bring-up` then `teardown` on the default platform with a 1024-page extension
 * pool (see the file's doc).
 */
export function defaultFaultConfig(poolPages = 1024): FaultConfig {
  const p = defaultPlatform();
  return {
    platform: {
      ...p,
      name: `${p.name}-pool${poolPages}`,
      metadata: { ...p.metadata, MEMORY_POOL_REQUIRED_PAGES: poolPages },
    },
    flows: ["bring-up", "teardown"],
  };
}

/**
 * One injection point: an allocation that fails, a SEAMCALL that returns a failing status (with the
 * real failure's side effects when the status says so), or an eviction of every dirty cache line right
 * after the nth SEAMCALL of the run.
 */
export type FaultPoint =
  | { readonly kind: "alloc"; readonly nth: number }
  | { readonly kind: "status"; readonly leaf: number; readonly nth: number; readonly status: FailingStatus }
  | { readonly kind: "evict"; readonly nth: number };

/** `alloc #17`, `TDH.SPDM.CONNECT #3 -> TDX_OPERAND_INVALID(R9)` or `evict after call #40`. */
export function faultText(p: FaultPoint): string {
  if (p.kind === "alloc") return `alloc #${p.nth}`;
  if (p.kind === "evict") return `evict after call #${p.nth}`;
  const effects = p.status.effects === true ? " (with effects)" : "";
  return `${leafName(p.leaf) ?? `leaf ${p.leaf}`} #${p.nth} -> ${statusText(statusValue(p.status))}${effects}`;
}

/** What a clean run of the configuration does: allocations and calls per leaf (the injection sites). */
export interface CleanProfile {
  readonly allocations: number;
  /** SEAMCALLs of the run (eviction points). */
  readonly calls: number;
  /** [leaf, calls], by leaf number. */
  readonly callsByLeaf: readonly (readonly [number, number])[];
  readonly outcome: RunOutcome;
}

/** The outcome of one run (clean or with faults). */
export interface RunOutcome {
  /** Every flow result of the sequence. */
  readonly flows: readonly FlowResult[];
  readonly allOk: boolean;
  /** Conservation violations, with the flow after which each was seen (empty when it held throughout). */
  readonly violations: readonly string[];
  readonly hazards: number;
  readonly modelReports: number;
  /** Pages the host's ledger holds as stranded at the end. */
  readonly stranded: number;
  /** Pages named in the host's stranding reports (must equal `stranded`). */
  readonly strandedReported: number;
  /** Stranded pages by flow result name (as the flows counted them). */
  readonly strandedByFlow: Readonly<Record<string, number>>;
  /** An exception a flow threw: `typed` for a TdxpaError (still a bug here), `untyped` otherwise. */
  readonly exception: { readonly typed: boolean; readonly message: string } | null;
  /** Faults whose site was reached (the call or allocation happened). */
  readonly faultsFired: number;
  /** End of teardown: pages the host still holds that were neither freed nor reported stranded. */
  readonly heldAtEnd: number;
  /** End of teardown: hazards of the cache sweep (private lines left on pages the module gave back). */
  readonly sweepHazards: number;
  /** Failure-policy rules broken (e.g. a failed bring-up that did not strand its pool). */
  readonly policy: readonly string[];
}

function statusOf(f: FailingStatus): U64 {
  return statusValue(f);
}

/** Runs the configuration on a fresh machine with `faults` armed. Never throws. */
export function runWithFaults(
  cfg: FaultConfig,
  faults: readonly FaultPoint[] = [],
): RunOutcome & { machine: Machine } {
  const machine = createMachine(cfg.platform, cfg.machine ?? {});
  const evictAfter = new Set<number>();
  for (const f of faults) {
    if (f.kind === "alloc") machine.alloc.failNth(f.nth);
    else if (f.kind === "evict") evictAfter.add(f.nth);
    else
      machine.module.forceStatus({
        leaf: f.leaf,
        nth: f.nth,
        status: statusOf(f.status),
        ...(f.status.effects === true ? { effects: true } : {}),
      });
  }
  if (evictAfter.size > 0)
    machine.module.onCall = (r) => {
      if (evictAfter.has(r.seq)) machine.cache.evictNow();
    };
  const state: FlowState = { iommus: [], extra: new Map() };
  const flows: FlowResult[] = [];
  const violations: string[] = [];
  let exception: RunOutcome["exception"] = null;
  for (const name of cfg.flows) {
    const flow = isFlowName(name) ? FLOWS[name].run : undefined;
    if (flow === undefined) {
      exception = { typed: true, message: `no flow named ${name}` };
      break;
    }
    try {
      flows.push(...flow(machine, state));
    } catch (e) {
      exception = {
        typed: isTdxpaError(e),
        message: `${name}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
      };
      break;
    }
    const c = checkConservation(machine);
    if (!c.ok) for (const v of c.violations) violations.push(`after ${name}: ${v}`);
  }
  // After the teardown: the end rule of conservation, the cache sweep and the failure policy.
  let heldAtEnd = 0;
  let sweepHazards = 0;
  let policy: readonly string[] = [];
  if (exception === null && cfg.flows[cfg.flows.length - 1] === "teardown") {
    const j = judgeEndOfTeardown(machine, flows);
    heldAtEnd = machine.kernel.ledger.held.size + machine.kernel.ledger.lent.size;
    sweepHazards = j.sweep.length;
    policy = j.policy;
    if (violations.length === 0)
      for (const v of j.conservation.violations) violations.push(`after teardown: ${v}`);
  }
  const strandedByFlow: Record<string, number> = {};
  for (const r of flows)
    if (r.strandedPages > 0) strandedByFlow[r.flow] = (strandedByFlow[r.flow] ?? 0) + r.strandedPages;
  let strandedReported = 0;
  for (const r of machine.kernel.ledger.strandReports) strandedReported += r.pfns.length;
  let faultsFired = 0;
  for (const f of faults) {
    const reached =
      f.kind === "alloc"
        ? machine.alloc.allocCount >= f.nth
        : f.kind === "evict"
          ? machine.module.seq >= f.nth
          : (machine.module.callsByLeaf.get(f.leaf) ?? 0) >= f.nth;
    if (reached) faultsFired++;
  }
  return {
    machine: machine,
    flows,
    allOk: exception === null && flows.every((r) => r.ok),
    violations,
    hazards: machine.cache.hazards.length,
    modelReports: machine.module.reports.length,
    stranded: machine.kernel.ledger.stranded.size,
    strandedReported,
    strandedByFlow,
    exception,
    faultsFired,
    heldAtEnd,
    sweepHazards,
    policy,
  };
}

/** Runs the configuration once without faults and records its injection sites. */
export function cleanProfile(cfg: FaultConfig): CleanProfile {
  const r = runWithFaults(cfg);
  return {
    allocations: r.machine.alloc.allocCount,
    calls: r.machine.module.seq,
    callsByLeaf: [...r.machine.module.callsByLeaf].sort((a, b) => a[0] - b[0]),
    outcome: withoutMachine(r),
  };
}

function withoutMachine(r: RunOutcome & { machine: Machine }): RunOutcome {
  const { machine: _m, ...rest } = r;
  return rest;
}

/**
 * Every single-fault injection point of a clean profile: allocations first, then calls by leaf, then an
 * eviction after each call.
 */
export function enumeratePoints(p: CleanProfile): FaultPoint[] {
  const out: FaultPoint[] = [];
  for (let nth = 1; nth <= p.allocations; nth++) out.push({ kind: "alloc", nth });
  for (const [leaf, count] of p.callsByLeaf)
    for (let nth = 1; nth <= count; nth++)
      for (const status of failingStatuses(leaf)) out.push({ kind: "status", leaf, nth, status });
  for (let nth = 1; nth <= p.calls; nth++) out.push({ kind: "evict", nth });
  return out;
}

/**
 * A deterministic stratified subset of `points`: every allocation point and, per (leaf, status), the
 * first `perSite` calls, the last call and an evenly spaced sample of the rest up to `perSite` more.
 */
export function stratify(points: readonly FaultPoint[], perSite: number): FaultPoint[] {
  const groups = new Map<string, FaultPoint[]>();
  const out: FaultPoint[] = [];
  for (const p of points) {
    if (p.kind !== "status") {
      out.push(p);
      continue;
    }
    const key = `${p.leaf} ${p.status.name} ${p.status.operand}`;
    const g = groups.get(key) ?? [];
    if (g.length === 0) groups.set(key, g);
    g.push(p);
  }
  for (const g of groups.values()) {
    if (g.length <= 2 * perSite + 1) {
      out.push(...g);
      continue;
    }
    const pick = new Set<number>();
    for (let i = 0; i < perSite; i++) pick.add(i);
    pick.add(g.length - 1);
    const step = (g.length - perSite - 1) / (perSite + 1);
    for (let i = 1; i <= perSite; i++) pick.add(perSite + Math.floor(i * step));
    for (const i of [...pick].sort((a, b) => a - b)) out.push(g[i]!);
  }
  return out;
}

/** One run that broke a rule. */
export interface FaultFinding {
  readonly faults: readonly string[];
  readonly problem: string;
}

/** Figures of a campaign. */
export interface FaultReport {
  readonly config: { readonly platform: string; readonly flows: readonly string[] };
  /** Injection points of the clean profile. */
  readonly pointsTotal: number;
  /** Distinct points exercised by this campaign. */
  readonly pointsCovered: number;
  readonly runs: number;
  /** Runs in which at least one flow failed (the fault was noticed). */
  readonly runsWithFailedFlow: number;
  /** Faults whose site was reached. */
  readonly faultsFired: number;
  readonly conservationFailures: number;
  readonly hazards: number;
  readonly modelReports: number;
  readonly untypedExceptions: number;
  readonly typedExceptions: number;
  /** Runs whose stranded pages differ from the pages named in stranding reports. */
  readonly unreportedStranding: number;
  /** Runs in which the host still held pages after teardown (leaks: stranded but never reported). */
  readonly heldAfterTeardown: number;
  /** Runs whose end-of-run cache sweep found private lines left on pages the module gave back. */
  readonly sweepFailures: number;
  /** Runs that broke a failure-policy rule. */
  readonly policyFailures: number;
  /** Stranded pages summed over runs, and by flow. */
  readonly strandedPages: number;
  readonly strandedByFlow: Readonly<Record<string, number>>;
  /** Runs that stranded at least one page. */
  readonly runsStranding: number;
  /** The first problems (at most 20). */
  readonly findings: readonly FaultFinding[];
  readonly ms: number;
}

class Tally {
  runs = 0;
  failedFlow = 0;
  fired = 0;
  conservation = 0;
  hazards = 0;
  reports = 0;
  untyped = 0;
  typed = 0;
  unreported = 0;
  heldAtEnd = 0;
  sweep = 0;
  policy = 0;
  stranded = 0;
  runsStranding = 0;
  readonly byFlow: Record<string, number> = {};
  readonly findings: FaultFinding[] = [];

  add(faults: readonly FaultPoint[], r: RunOutcome): void {
    this.runs++;
    if (!r.allOk) this.failedFlow++;
    this.fired += r.faultsFired;
    const problems: string[] = [];
    if (r.violations.length > 0) {
      this.conservation++;
      problems.push(`conservation: ${r.violations[0]}`);
    }
    if (r.hazards > 0) problems.push(`${r.hazards} hazard(s)`);
    if (r.modelReports > 0) problems.push(`${r.modelReports} model report(s)`);
    this.hazards += r.hazards;
    this.reports += r.modelReports;
    if (r.exception !== null) {
      if (r.exception.typed) this.typed++;
      else this.untyped++;
      problems.push(`${r.exception.typed ? "typed" : "untyped"} exception: ${r.exception.message}`);
    }
    if (r.stranded !== r.strandedReported) {
      this.unreported++;
      problems.push(`${r.stranded} stranded, ${r.strandedReported} reported`);
    }
    if (r.heldAtEnd > 0) {
      this.heldAtEnd++;
      problems.push(`${r.heldAtEnd} page(s) still held after teardown`);
    }
    if (r.sweepHazards > 0) {
      this.sweep++;
      problems.push(`${r.sweepHazards} private line(s) left at the end`);
    }
    if (r.policy.length > 0) {
      this.policy++;
      problems.push(r.policy[0]!);
    }
    this.stranded += r.stranded;
    if (r.stranded > 0) this.runsStranding++;
    for (const [k, v] of Object.entries(r.strandedByFlow)) this.byFlow[k] = (this.byFlow[k] ?? 0) + v;
    if (problems.length > 0 && this.findings.length < 20)
      this.findings.push({ faults: faults.map(faultText), problem: problems.join("; ") });
  }

  report(cfg: FaultConfig, total: number, covered: number, ms: number): FaultReport {
    return {
      config: { platform: cfg.platform.name, flows: cfg.flows },
      pointsTotal: total,
      pointsCovered: covered,
      runs: this.runs,
      runsWithFailedFlow: this.failedFlow,
      faultsFired: this.fired,
      conservationFailures: this.conservation,
      hazards: this.hazards,
      modelReports: this.reports,
      untypedExceptions: this.untyped,
      typedExceptions: this.typed,
      unreportedStranding: this.unreported,
      heldAfterTeardown: this.heldAtEnd,
      sweepFailures: this.sweep,
      policyFailures: this.policy,
      strandedPages: this.stranded,
      strandedByFlow: this.byFlow,
      runsStranding: this.runsStranding,
      findings: this.findings,
      ms,
    };
  }
}

/** A monotonic clock in ms (performance.now where the platform has it). */
function now(): number {
  const p = (globalThis as { performance?: { now(): number } }).performance;
  return p === undefined ? Date.now() : p.now();
}

/**
 * Runs every point of `points` (default: all of the clean profile's) alone on a fresh machine.
 * `onProgress` is called after each run.
 */
export function runSingleFaults(
  cfg: FaultConfig,
  opts: {
    points?: readonly FaultPoint[];
    profile?: CleanProfile;
    onProgress?: (done: number, total: number) => void;
  } = {},
): FaultReport {
  const t0 = now();
  const profile = opts.profile ?? cleanProfile(cfg);
  const all = enumeratePoints(profile);
  const points = opts.points ?? all;
  const tally = new Tally();
  for (const [i, p] of points.entries()) {
    tally.add([p], runWithFaults(cfg, [p]));
    opts.onProgress?.(i + 1, points.length);
  }
  const keys = new Set(all.map(faultText));
  const covered = new Set(points.map(faultText).filter((key) => keys.has(key))).size;
  return tally.report(cfg, all.length, covered, now() - t0);
}

/**
 * `schedules` seeded random schedules of `k` distinct faults each, drawn from all injection points of
 * the clean profile (a later fault may not fire when an earlier one ends the flow first: see
 * `faultsFired`).
 */
export function runMultiFaults(
  cfg: FaultConfig,
  opts: { k: number; schedules: number; seed: number; profile?: CleanProfile },
): FaultReport {
  const t0 = now();
  const profile = opts.profile ?? cleanProfile(cfg);
  const all = enumeratePoints(profile);
  const rng = Rng.mulberry32(opts.seed);
  const tally = new Tally();
  const seen = new Set<string>();
  for (let s = 0; s < opts.schedules; s++) {
    const pick = new Set<number>();
    while (pick.size < Math.min(opts.k, all.length)) pick.add(rng.below(all.length));
    // Allocation faults and per-leaf call faults may share a site; one status per (leaf, nth) is kept.
    const faults: FaultPoint[] = [];
    const sites = new Set<string>();
    for (const i of pick) {
      const p = all[i]!;
      const site = p.kind === "status" ? `${p.leaf}:${p.nth}` : `${p.kind}${p.nth}`;
      if (sites.has(site)) continue;
      sites.add(site);
      faults.push(p);
      seen.add(faultText(p));
    }
    tally.add(faults, runWithFaults(cfg, faults));
  }
  return tally.report(cfg, all.length, seen.size, now() - t0);
}

/** Leaf numbers used by a profile, by name (for reports). */
export function profileText(p: CleanProfile): string {
  return p.callsByLeaf.map(([l, n]) => `${leafName(l) ?? l} x${n}`).join(", ");
}

export { LEAF };
