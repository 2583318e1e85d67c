/**
 * Builds a {@link ReportModel} (./model.ts) from the model's event stream (src/observe/events.ts) and the
 * run report. Events carry numbers, and so does this collector: a page's state changes through a cached
 * transition table keyed by numbers (state id, operation, PAMT type, owner), and a call's root page comes
 * as raw halves ({@link RootPage.raw}); text is made once per distinct string, for the page to show.
 *
 * Stranding has no event: see the placement rule in ./model.ts.
 *
 * Core code: no Node APIs.
 */
import type { Machine } from "../machine.js";
import { ptName } from "../module/pamt.js";
import { isModuleType, type ModelEvent, type RootRaw, type SeamcallEvent } from "../observe/events.js";
import { ObjectNamer } from "../observe/object-names.js";
import type { RunReport } from "../scenario/runner.js";
import type { Scenario } from "../scenario/schema.js";
import {
  BASE,
  baseOf,
  type CallColumns,
  CLS,
  entryRuns,
  MAX_HAZARDS,
  REPORT_FORMAT,
  type ReportModel,
  type RootRecord,
  type StateTuple,
} from "./model.js";

const SECTION = 1024;

interface Section {
  /** Current state per page. */
  readonly cur: Int32Array;
  /** Index + 1 of the page's last transition in the log; 0 = page not involved. */
  readonly last: Int32Array;
}

/** A growable int32 column. */
class IntLog {
  data = new Int32Array(1024);
  length = 0;
  push(v: number): number {
    if (this.length === this.data.length) {
      const d = new Int32Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length] = v;
    return this.length++;
  }
}

/** The status class ({@link CLS}) of a call: bit 63 of the status is the error bit. */
function statusClass(e: SeamcallEvent): number {
  if (e.statusName === "TDX_INTERRUPTED_RESUMABLE") return CLS.INTERRUPTED;
  return e.statusCode.hi >>> 31 === 1 ? CLS.ERROR : CLS.OK;
}

/** Operations on a page's state (the transition table's second key). */
const OP = Object.freeze({ ALLOC: 0, FREE: 1, HAZARD: 2, STRAND: 3, PAMT: 4 });

/**
 * Collects a run's events into a {@link ReportModel}. Feed {@link sink} every event
 * (`runScenario(s, { onEvent: c.sink, pageEvents: true, onDone: c.onDone })`), then call {@link finish}
 * with the run report. `buildReport` (./build.ts) does all three.
 */
export class ReportCollector {
  private readonly strings: string[] = [];
  private readonly stringIds = new Map<string, number>();
  private readonly states: StateTuple[] = [];
  private readonly stateIds = new Map<string, number>();
  private readonly steps: number[] = [];
  private readonly stepTouch: number[][] = [];
  private readonly calls: CallColumns = {
    seq: [],
    pos: [],
    t: [],
    leaf: [],
    status: [],
    cls: [],
    units: [],
    forced: [],
    inputs: [],
    outputs: [],
    root: [],
    resumes: [],
  };
  private readonly hosts = { allocs: [] as number[][], frees: [] as number[], hazards: [] as number[] };
  private readonly roots: RootRecord[] = [];
  private readonly rootIds = new Map<string, number>();
  private readonly phases: number[][] = [];
  private readonly openPhases: number[][] = [];
  private readonly hazards: number[][] = [];
  private hazardCount = 0;
  private reportCount = 0;
  private interrupts = 0;
  private readonly sections = new Map<number, Section>();
  private readonly logPos = new IntLog();
  private readonly logState = new IntLog();
  private readonly logPrev = new IntLog();
  /** Transition table: `state id × 8 + OP` → state id. */
  private readonly opNext = new Map<number, number>();
  /** Transition table of PAMT changes: `owner × 256 + pt + 1` → state id → state id. */
  private readonly pamtNext = new Map<number, Map<number, number>>();
  /** Host batch open since the last call (its index), or -1. */
  private hostOpen = -1;
  /** Pages the pending (not yet reported) call touched. */
  private pendingTouch: number[] = [];
  private readonly interruptedByLeaf = new Map<string, number>();
  private lastSeq = 0;
  private strandReports: readonly { readonly pfns: readonly number[] }[] = [];

  /** @param scenario The scenario being run (its name, description and platform). */
  private readonly namer: ObjectNamer;
  /** Owner object id → label, learnt from the call that gave the object its first page. */
  private readonly ownerLabel = new Map<number, string>();
  private pendingOwners = new Set<number>();

  constructor(private readonly scenario: Scenario) {
    this.namer = new ObjectNamer({
      iommus: scenario.platform.iommus,
      devices: scenario.platform.devices ?? [],
    });
    this.state([0, -1, 0, 0, 0]);
  }

  /** Receives one model event. */
  readonly sink = (e: ModelEvent): void => {
    switch (e.type) {
      case "seamcall":
        this.call(e);
        break;
      case "page": {
        const pos = this.steps.length + 1;
        const module = isModuleType(e.to);
        if (module && e.owner !== 0 && !this.ownerLabel.has(e.owner)) this.pendingOwners.add(e.owner);
        this.changePamt(e.pfn, pos, module ? e.to : -1, module ? e.owner : 0);
        addRange(this.pendingTouch, e.pfn, 1);
        break;
      }
      case "alloc": {
        const pos = this.hostStep();
        for (let i = 0; i < e.pages; i++) this.change(e.pfn + i, pos, OP.ALLOC);
        this.hosts.allocs[this.hostOpen]!.push(e.pfn, e.pages, this.str(e.tag));
        addRange(this.stepTouch[pos - 1]!, e.pfn, e.pages);
        break;
      }
      case "free": {
        const pos = this.hostStep();
        this.change(e.pfn, pos, OP.FREE);
        this.hosts.frees[this.hostOpen]!++;
        addRange(this.stepTouch[pos - 1]!, e.pfn, 1);
        break;
      }
      case "hazard": {
        this.hazardCount++;
        const m = /#(\d+)$/.exec(e.cause);
        const inCall = m !== null && Number(m[1]) === this.lastSeq + 1;
        const pos = inCall ? this.steps.length + 1 : this.hostStep();
        this.change(e.pfn, pos, OP.HAZARD);
        if (inCall) addRange(this.pendingTouch, e.pfn, 1);
        else {
          addRange(this.stepTouch[pos - 1]!, e.pfn, 1);
          this.hosts.hazards[this.hostOpen]!++;
        }
        if (this.hazards.length < MAX_HAZARDS)
          this.hazards.push([
            pos,
            e.pfn,
            this.str(e.kind),
            inCall ? this.calls.seq.length : -1,
            this.str(e.cause),
            this.str(e.message),
          ]);
        break;
      }
      case "report":
        this.reportCount++;
        break;
      case "phase":
        if (e.edge === "begin") this.openPhases.push([this.str(e.name), this.steps.length]);
        else {
          const open = this.openPhases.pop();
          if (open !== undefined) this.phases.push([open[0]!, open[1]!, this.steps.length]);
        }
        break;
    }
  };

  /** Reads what only the machine knows at the end: the host's strandings. Pass as `onDone`. */
  readonly onDone = (m: Machine): void => {
    this.strandReports = m.kernel.ledger.strandReports.map((r) => ({ pfns: [...r.pfns] }));
  };

  private str(s: string): number {
    let id = this.stringIds.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.stringIds.set(s, id);
    }
    return id;
  }

  private state(t: StateTuple): number {
    const key = t.join(",");
    let id = this.stateIds.get(key);
    if (id === undefined) {
      id = this.states.length;
      this.states.push(t);
      this.stateIds.set(key, id);
    }
    return id;
  }

  private hostStep(): number {
    if (this.hostOpen < 0) {
      this.hostOpen = this.hosts.allocs.length;
      this.hosts.allocs.push([]);
      this.hosts.frees.push(0);
      this.hosts.hazards.push(0);
      this.steps.push(-(this.hostOpen + 1));
      this.stepTouch.push([]);
    }
    return this.steps.length;
  }

  private section(pfn: number): { sec: Section; off: number } {
    const key = Math.floor(pfn / SECTION);
    let sec = this.sections.get(key);
    if (sec === undefined) {
      sec = { cur: new Int32Array(SECTION), last: new Int32Array(SECTION) };
      this.sections.set(key, sec);
    }
    return { sec, off: pfn - key * SECTION };
  }

  /** Applies `op` (one of {@link OP} other than PAMT) to page `pfn` at position `pos`. */
  private change(pfn: number, pos: number, op: number): void {
    const { sec, off } = this.section(pfn);
    const cur = sec.cur[off]!;
    const key = cur * 8 + op;
    let next = this.opNext.get(key);
    if (next === undefined) {
      const s = this.states[cur]!;
      next = this.state(
        op === OP.ALLOC
          ? [1, s[1], s[2], s[3], s[4]]
          : op === OP.FREE
            ? [0, s[1], s[2], s[3], s[4]]
            : op === OP.HAZARD
              ? [s[0], s[1], s[2], 1, s[4]]
              : [s[0], s[1], s[2], s[3], 1],
      );
      this.opNext.set(key, next);
    }
    this.moveTo(sec, off, pos, next);
  }

  /**
   * Page `pfn` became PAMT type `pt` owned by `owner` at position `pos` (`pt` -1, owner 0: no longer the
   * module's). The PAMT type's name enters the string table the first time it is seen.
   */
  private changePamt(pfn: number, pos: number, pt: number, owner: number): void {
    const { sec, off } = this.section(pfn);
    const cur = sec.cur[off]!;
    // pt < 256 (the PAMT keeps types in a byte), owner < 2^32: the key is exact.
    const target = owner * 256 + (pt + 1);
    let byCur = this.pamtNext.get(target);
    if (byCur === undefined) {
      byCur = new Map();
      this.pamtNext.set(target, byCur);
    }
    let next = byCur.get(cur);
    if (next === undefined) {
      const s = this.states[cur]!;
      next = this.state([s[0], pt < 0 ? -1 : this.str(ptName(pt)), owner, s[3], s[4]]);
      byCur.set(cur, next);
    }
    this.moveTo(sec, off, pos, next);
  }

  /** Moves the page at `off` of `sec` to state `next` at position `pos`, logging the transition. */
  private moveTo(sec: Section, off: number, pos: number, next: number): void {
    const cur = sec.cur[off]!;
    const li = sec.last[off]! - 1;
    if (next === cur && li >= 0) return;
    if (li >= 0 && this.logPos.data[li] === pos) this.logState.data[li] = next;
    else {
      const i = this.logPos.push(pos);
      this.logState.push(next);
      this.logPrev.push(li);
      sec.last[off] = i + 1;
    }
    sec.cur[off] = next;
  }

  private call(e: SeamcallEvent): void {
    this.hostOpen = -1;
    const c = this.calls;
    const n = c.seq.length;
    this.steps.push(n);
    this.stepTouch.push(this.pendingTouch);
    this.pendingTouch = [];
    this.lastSeq = e.seq;
    const obj = this.namer.observe(e);
    for (const owner of this.pendingOwners)
      this.ownerLabel.set(owner, obj?.label ?? `module object #${owner}`);
    this.pendingOwners.clear();
    const cls = statusClass(e);
    if (cls === CLS.INTERRUPTED) this.interrupts++;
    const resumes = this.interruptedByLeaf.get(e.leaf) ?? -1;
    if (cls === CLS.INTERRUPTED) this.interruptedByLeaf.set(e.leaf, n);
    else this.interruptedByLeaf.delete(e.leaf);
    c.seq.push(e.seq);
    c.pos.push(this.steps.length);
    c.t.push(e.t);
    c.leaf.push(this.str(e.leaf));
    c.status.push(this.str(e.status));
    c.cls.push(cls);
    c.units.push(e.units);
    c.forced.push(e.forced ? 1 : 0);
    c.inputs.push(this.str(operandText(e.inputs)));
    c.outputs.push(this.str(operandText(e.outputs)));
    c.root.push(this.root(e.root?.raw() ?? null));
    c.resumes.push(resumes);
  }

  /** Index of the call's root record in `roots` (identical records shared), or -1 for no list. */
  private root(v: RootRaw | null): number {
    if (v === null) return -1;
    const rec: RootRecord = {
      register: v.register,
      format: v.format,
      rootHpa: v.rootHpa === null ? null : `0x${v.rootHpa.toString(16)}`,
      count: v.count,
      runs: entryRuns(v.entries),
    };
    const key = JSON.stringify(rec);
    let id = this.rootIds.get(key);
    if (id === undefined) {
      id = this.roots.length;
      this.roots.push(rec);
      this.rootIds.set(key, id);
    }
    return id;
  }

  private lastPosOf(pfn: number): number {
    const { sec, off } = this.section(pfn);
    const li = sec.last[off]! - 1;
    return li < 0 ? 0 : this.logPos.data[li]!;
  }

  /**
   * Each run's object: the owner of its first module-owned state, labelled by the call that created or
   * fed that object; runs never module-owned are host pages. Groups are ordered pool, IOMMU units, SPDM
   * sessions, IDE streams, other objects, host pages; within a kind, by first PFN.
   */
  private group(
    runs: readonly number[],
    histories: readonly number[][],
  ): { groups: string[]; runGroups: number[] } {
    const HOST = "host pages (never handed to the module)";
    const labels: string[] = [];
    for (let i = 0; i < runs.length; i += 3) {
      const hist = histories[runs[i + 2]!]!;
      let label = HOST;
      for (let j = 1; j < hist.length; j += 2) {
        const st = this.states[hist[j]!]!;
        if (st[1] >= 0 && st[2] !== 0) {
          label = this.ownerLabel.get(st[2]) ?? `module object #${st[2]}`;
          break;
        }
      }
      labels.push(label);
    }
    const rank = (l: string) =>
      l === "extension memory pool"
        ? 0
        : l.startsWith("IOMMU ")
          ? 1
          : l.startsWith("SPDM session ")
            ? 2
            : l.startsWith("IDE stream ")
              ? 3
              : l === HOST
                ? 5
                : 4;
    const firstSeen = new Map<string, number>();
    labels.forEach((l, i) => {
      if (!firstSeen.has(l)) firstSeen.set(l, i);
    });
    const groups = [...firstSeen.keys()].sort(
      (a, b) => rank(a) - rank(b) || firstSeen.get(a)! - firstSeen.get(b)!,
    );
    const index = new Map(groups.map((g, i) => [g, i]));
    return { groups, runGroups: labels.map((l) => index.get(l)!) };
  }

  /** Places the host's strandings (see the file comment). */
  private strand(run: RunReport): void {
    let done = 0;
    let phase = 0;
    for (const r of this.strandReports) {
      const n = r.pfns.length;
      while (phase < run.phases.length - 1 && run.phases[phase]!.pages.stranded < done + n) phase++;
      done += n;
      const ph = this.phases[phase];
      const begin = ph?.[1] ?? 0;
      const end = ph?.[2] ?? this.steps.length;
      let from = Math.max(begin + 1, ...r.pfns.map((p) => this.lastPosOf(p)));
      if (from > end) from = end;
      let pos = from;
      for (let p = from; p <= end; p++) {
        const s = this.steps[p - 1];
        if (s !== undefined && s >= 0 && this.calls.cls[s] === CLS.ERROR) {
          pos = p;
          break;
        }
      }
      for (const pfn of r.pfns) this.change(pfn, pos, OP.STRAND);
    }
  }

  /** Finishes the model with the run's report. Call once, after the run. */
  finish(run: RunReport): ReportModel {
    this.strand(run);
    const phases = this.phases.map((p, i) => {
      const rp = run.phases[i];
      return [p[0]!, p[1]!, p[2]!, rp?.ok === false ? 0 : 1, rp?.detail == null ? -1 : this.str(rp.detail)];
    });
    const touchOff: number[] = [];
    const touch: number[] = [];
    for (const t of this.stepTouch) {
      touchOff.push(touch.length);
      for (const v of t) touch.push(v);
    }
    touchOff.push(touch.length);

    // Page runs: walk pages by PFN, merging neighbours with identical histories.
    const runs: number[] = [];
    const histories: number[][] = [];
    const histIds = new Map<string, number>();
    const final = [0, 0, 0, 0];
    const finalByType: Record<string, number> = {};
    let finalHazard = 0;
    let involved = 0;
    let prev: number[] = [];
    let hist: number[] = [];
    let runEnd = -1;
    const keys = [...this.sections.keys()].sort((a, b) => a - b);
    for (const key of keys) {
      const sec = this.sections.get(key)!;
      for (let off = 0; off < SECTION; off++) {
        let li = sec.last[off]! - 1;
        if (li < 0) continue;
        const pfn = key * SECTION + off;
        involved++;
        const st = this.states[sec.cur[off]!]!;
        const base = baseOf(st);
        final[base]!++;
        if (st[3] === 1) finalHazard++;
        if (base === BASE.MODULE) {
          const type = this.strings[st[1]]!;
          finalByType[type] = (finalByType[type] ?? 0) + 1;
        }
        hist = [];
        while (li >= 0) {
          hist.push(this.logState.data[li]!, this.logPos.data[li]!);
          li = this.logPrev.data[li]!;
        }
        hist.reverse();
        if (pfn === runEnd && sameArray(hist, prev)) {
          runs[runs.length - 2]!++;
          runEnd++;
          continue;
        }
        const hk = hist.join(",");
        let hid = histIds.get(hk);
        if (hid === undefined) {
          hid = histories.length;
          histories.push(hist);
          histIds.set(hk, hid);
        }
        runs.push(pfn, 1, hid);
        runEnd = pfn + 1;
        prev = hist;
      }
    }
    const { groups, runGroups } = this.group(runs, histories);
    const c = run.conservation;
    const met = run.expectations.filter((e) => e.ok).length;
    return {
      format: REPORT_FORMAT,
      scenario: this.scenario.name,
      description: this.scenario.description,
      platform: this.scenario.platform.name,
      queuePages: 2 ** this.scenario.platform.metadata.iqOrder,
      strings: this.strings,
      states: this.states,
      steps: this.steps,
      calls: this.calls,
      hosts: this.hosts,
      touchOff,
      touch,
      roots: this.roots,
      runs,
      groups,
      runGroups,
      histories,
      phases,
      hazards: this.hazards,
      figures: {
        calls: this.calls.seq.length,
        interrupts: this.interrupts,
        hazards: this.hazardCount,
        reports: this.reportCount,
        steps: this.steps.length,
        pagesInvolved: involved,
        final,
        finalHazard,
        finalByType,
      },
      run: {
        ok: run.ok,
        verdict: run.verdict,
        exitCode: run.exitCode,
        totals: run.totals,
        conservation: {
          ok: c.ok,
          totals: c.totals,
          byObject: c.byObject,
          violationCount: c.violationCount,
          violations: c.violations.slice(0, 10),
        },
        reports: run.reports.map((r) => ({ kind: r.kind, pfn: r.pfn, cause: r.cause, message: r.message })),
        expectations: {
          met,
          total: run.expectations.length,
          notMet: run.expectations.filter((e) => !e.ok).map((e) => `step ${e.step}: ${e.message}`),
        },
        unexpected: run.unexpected,
      },
    };
  }
}

function sameArray(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Appends `[pfn, n]` to a flat range list, extending the last range when contiguous. */
function addRange(ranges: number[], pfn: number, n: number): void {
  const k = ranges.length;
  if (k >= 2 && ranges[k - 2]! + ranges[k - 1]! === pfn) ranges[k - 1]! += n;
  else ranges.push(pfn, n);
}

function operandText(ops: Readonly<Record<string, string>>): string {
  return Object.entries(ops)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}
