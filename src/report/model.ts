/**
 * The report model: a compact picture of one scenario run, built from the model's event stream
 * (src/observe/events.ts) and the run report, for the self-contained HTML report (`tdxpa report`).
 *
 * What it holds:
 * - **steps**, the slider's positions: each SEAMCALL is a step, and each batch of host actions between
 *   two SEAMCALLs (allocations, frees, host-caused hazards) is one step. Position `p` is the machine
 *   after step `p` (position 0: before anything).
 * - **pages involved** (every page that was allocated, changed PAMT state or took a hazard), as runs of
 *   consecutive PFNs sharing one history; a history is `[position, state, position, state, …]` and the
 *   state table says host free / host held / module-owned (PAMT type, owner object) / stranded, plus the
 *   hazard flag. The 1,048,576-page pool compresses to about 2,000 runs.
 * - **calls** in columns (not one object each), with operands decoded by src/observe/describe-call.ts,
 *   status classes, interrupts and the call each one resumes, and each call's root page as runs of raw
 *   entries (`[lo, hi, n, step]`: n entries, each `step` above the last) that the page decodes with
 *   src/common/formats.ts, so the page and the CLI cannot disagree.
 * - the run report's figures, the model's own figures, hazards with their page and call.
 *
 * Stranding has no event: the host's ledger is read when the run ends, each stranding is placed in
 * the step whose per-step count rose, at the first failed SEAMCALL at or after the pages' last change
 * (the failure policy runs right after a failed call). That placement is an inference; the counts are
 * exact.
 *
 * Core code: no Node APIs (the HTML page bundles the figures functions below).
 */
import { STATUS, type StatusName } from "../common/status.js";
import type { Machine } from "../machine.js";
import type { ModelEvent } from "../observe/events.js";
import { ObjectNamer } from "../observe/object-names.js";
import type { RootView } from "../observe/root-pages.js";
import type { RunReport } from "../scenario/runner.js";
import type { Scenario } from "../scenario/schema.js";

/** Format tag of {@link ReportModel}; bump when the shape changes. */
export const REPORT_FORMAT = "tdxpa-report/1";

/** Base states of a page on the map, by index. */
export const BASE = Object.freeze({ FREE: 0, HELD: 1, MODULE: 2, STRANDED: 3 });

/** Names of the base states, indexed by {@link BASE}. */
export const BASE_NAMES: readonly string[] = ["host free", "host held", "module-owned", "stranded"];

/** Status classes of a call: success, interrupted (resumable), error. */
export const CLS = Object.freeze({ OK: 0, INTERRUPTED: 1, ERROR: 2 });

/** One page state: `[allocated 0|1, PAMT type (string index, -1 = not module-owned), owner, hazard 0|1, stranded 0|1]`. */
export type StateTuple = readonly [number, number, number, number, number];

/** The calls, one array per column, indexed by call number (0-based; `seq` is the module's). */
export interface CallColumns {
  readonly seq: number[];
  /** Step position of the call (1-based: the state after it). */
  readonly pos: number[];
  /** Virtual time (units of work before the call). */
  readonly t: number[];
  /** String index of the leaf name. */
  readonly leaf: number[];
  /** String index of the status text. */
  readonly status: number[];
  /** {@link CLS}. */
  readonly cls: number[];
  readonly units: number[];
  readonly forced: number[];
  /** String index of `REG=decoded …` inputs (empty string when none). */
  readonly inputs: number[];
  /** String index of decoded outputs. */
  readonly outputs: number[];
  /** Index into `roots`, or -1 when the leaf takes no page list. */
  readonly root: number[];
  /** Call number of the interrupted call this one resumes, or -1. */
  readonly resumes: number[];
}

/** A call's root page: the list operand's register, format, root and raw entries as runs. */
export interface RootRecord {
  readonly register: string;
  readonly format: "hpa-list-info" | "hpa-array" | "iommu-mt";
  /** The root page as hex, or null for a singleton HPA_ARRAY_T. */
  readonly rootHpa: string | null;
  readonly count: number;
  /** Raw entries as runs `[lo, hi, n, step]`: n entries, the first `hi:lo`, each next `step` above. */
  readonly runs: number[];
}

/** The figures of a run, as counted from the event stream. */
export interface ReportFigures {
  readonly calls: number;
  readonly interrupts: number;
  readonly hazards: number;
  readonly reports: number;
  readonly steps: number;
  readonly pagesInvolved: number;
  /** Pages of the map by base state at the end ({@link BASE_NAMES} order). */
  readonly final: readonly number[];
  /** Pages with the hazard flag at the end. */
  readonly finalHazard: number;
  /** Module-owned pages at the end by PAMT type. */
  readonly finalByType: Readonly<Record<string, number>>;
}

/** What the run report said (the figures `tdxpa run` prints). */
export interface RunSummary {
  readonly ok: boolean;
  /** `clean`, `findings, all expected` or `problems found` (src/scenario/verdict.ts). */
  readonly verdict: RunReport["verdict"];
  readonly exitCode: 0 | 1;
  readonly totals: RunReport["totals"];
  readonly conservation: {
    readonly ok: boolean;
    readonly totals: RunReport["conservation"]["totals"];
    readonly byObject: Readonly<Record<string, number>>;
    readonly violationCount: number;
    readonly violations: readonly string[];
  };
  readonly reports: readonly { kind: string; pfn: number; cause: string; message: string }[];
  readonly expectations: { readonly met: number; readonly total: number; readonly notMet: readonly string[] };
  readonly unexpected: readonly string[];
}

/** The whole model, as embedded (JSON) in the HTML report. */
export interface ReportModel {
  readonly format: typeof REPORT_FORMAT;
  readonly scenario: string;
  readonly description: string;
  readonly platform: string;
  /** Pages of an IOMMU queue block (entries 0 and 1 of an IOMMU_MT), for entry decoding. */
  readonly queuePages: number;
  readonly strings: string[];
  readonly states: StateTuple[];
  /** Per position 1..n: ≥ 0 a call number, < 0 host batch `-(i + 1)`. */
  readonly steps: number[];
  readonly calls: CallColumns;
  /** Host batches: allocations as flat `[pfn, pages, tag string, …]`, and counts of freed pages. */
  readonly hosts: { readonly allocs: number[][]; readonly frees: number[]; readonly hazards: number[] };
  /** Pages each step touched: step `i` (0-based) has ranges `touch[touchOff[i] .. touchOff[i+1])` as `[pfn, count]` pairs. */
  readonly touchOff: number[];
  readonly touch: number[];
  readonly roots: RootRecord[];
  /** Page runs as flat `[first pfn, count, history index, …]`, by PFN. */
  readonly runs: number[];
  /**
   * The objects the map groups pages by, in display order: the extension memory pool, each IOMMU unit,
   * each SPDM session, each IDE stream, other module objects, then the pages never handed to the module.
   */
  readonly groups: string[];
  /** Group index of each run (`runs` has three numbers per run, this one per run). */
  readonly runGroups: number[];
  /** Histories: `[position, state, …]`, ascending; a page is host free before its first entry. */
  readonly histories: number[][];
  /** Scenario steps: `[label string, first position, last position, ok 0|1, detail string or -1]`. */
  readonly phases: number[][];
  /** Hazards (first {@link MAX_HAZARDS}): `[position, pfn, kind string, call number or -1, cause string, message string]`. */
  readonly hazards: number[][];
  readonly figures: ReportFigures;
  readonly run: RunSummary;
}

/** Most hazards listed one by one (all of them mark pages on the map). */
export const MAX_HAZARDS = 2000;

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

function statusClass(text: string): number {
  const name = text.split("(")[0]!;
  if (name === "TDX_INTERRUPTED_RESUMABLE") return CLS.INTERRUPTED;
  const k = STATUS[name as StatusName];
  if (k !== undefined) return k.hi >>> 31 === 1 ? CLS.ERROR : CLS.OK;
  // An unnamed status is shown as raw hex: bit 63 is the error bit.
  const m = /^0x([0-9a-f]{16})$/i.exec(text);
  return m !== null && Number.parseInt(m[1]!.slice(0, 8), 16) >>> 31 === 1 ? CLS.ERROR : CLS.OK;
}

/** `hi:lo` halves of a `0x` + 16 hex digits string. */
function halves(raw: string): [number, number] {
  const h = raw.replace(/^0x/i, "").padStart(16, "0");
  return [Number.parseInt(h.slice(8), 16), Number.parseInt(h.slice(0, 8), 16)];
}

/** Raw entries as runs `[lo, hi, n, step]` (step in 0..2^31, 64-bit add with carry). */
export function entryRuns(raws: readonly string[]): number[] {
  const out: number[] = [];
  let pLo = 0;
  let pHi = 0;
  for (const raw of raws) {
    const [lo, hi] = halves(raw);
    const n = out.length;
    if (n > 0) {
      const cnt = out[n - 2]!;
      const diffLo = lo - pLo + (hi - pHi) * 2 ** 32;
      const step = cnt === 1 ? diffLo : out[n - 1]!;
      if (diffLo === step && step >= 0 && step < 2 ** 31) {
        out[n - 2] = cnt + 1;
        out[n - 1] = step;
        pLo = lo;
        pHi = hi;
        continue;
      }
    }
    out.push(lo, hi, 1, 0);
    pLo = lo;
    pHi = hi;
  }
  return out;
}

/** Expands entry runs back to `[lo, hi]` pairs (what the page does before decoding). */
export function expandEntryRuns(runs: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i + 3 < runs.length; i += 4) {
    let lo = runs[i]!;
    let hi = runs[i + 1]!;
    const n = runs[i + 2]!;
    const step = runs[i + 3]!;
    for (let k = 0; k < n; k++) {
      out.push([lo, hi]);
      lo += step;
      if (lo >= 2 ** 32) {
        lo -= 2 ** 32;
        hi = (hi + 1) >>> 0;
      }
    }
  }
  return out;
}

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
        const module = e.to !== "PT_NDA" && e.to !== "PT_RSVD";
        if (module && e.owner !== 0 && !this.ownerLabel.has(e.owner)) this.pendingOwners.add(e.owner);
        this.change(e.pfn, pos, (s) => [
          s[0],
          module ? this.str(e.to) : -1,
          module ? e.owner : 0,
          s[3],
          s[4],
        ]);
        addRange(this.pendingTouch, e.pfn, 1);
        break;
      }
      case "alloc": {
        const pos = this.hostStep();
        for (let i = 0; i < e.pages; i++) this.change(e.pfn + i, pos, (s) => [1, s[1], s[2], s[3], s[4]]);
        this.hosts.allocs[this.hostOpen]!.push(e.pfn, e.pages, this.str(e.tag));
        addRange(this.stepTouch[pos - 1]!, e.pfn, e.pages);
        break;
      }
      case "free": {
        const pos = this.hostStep();
        this.change(e.pfn, pos, (s) => [0, s[1], s[2], s[3], s[4]]);
        this.hosts.frees[this.hostOpen]!++;
        addRange(this.stepTouch[pos - 1]!, e.pfn, 1);
        break;
      }
      case "hazard": {
        this.hazardCount++;
        const m = /#(\d+)$/.exec(e.cause);
        const inCall = m !== null && Number(m[1]) === this.lastSeq + 1;
        const pos = inCall ? this.steps.length + 1 : this.hostStep();
        this.change(e.pfn, pos, (s) => [s[0], s[1], s[2], 1, s[4]]);
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

  /** Moves page `pfn` to `f(current state)` at position `pos`. */
  private change(pfn: number, pos: number, f: (s: StateTuple) => StateTuple): void {
    const { sec, off } = this.section(pfn);
    const cur = sec.cur[off]!;
    const next = this.state(f(this.states[cur]!));
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

  private call(e: Extract<ModelEvent, { type: "seamcall" }>): void {
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
    const cls = statusClass(e.status);
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
    c.root.push(e.root === undefined ? -1 : this.root(e.root));
    c.resumes.push(resumes);
  }

  private root(v: RootView): number {
    const runs = entryRuns(v.entries.map((x) => x.raw));
    const rec: RootRecord = {
      register: v.register,
      format: v.format,
      rootHpa: v.rootHpa,
      count: v.count,
      runs,
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
      for (const pfn of r.pfns) this.change(pfn, pos, (s) => [s[0], s[1], s[2], s[3], 1]);
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

/** The base state ({@link BASE}) of a state tuple: stranded, else module-owned, else held or free. */
export function baseOf(s: StateTuple): number {
  if (s[4] === 1) return BASE.STRANDED;
  if (s[1] >= 0) return BASE.MODULE;
  return s[0] === 1 ? BASE.HELD : BASE.FREE;
}

/** The state index of history `h` at position `pos` (0 = host free before its first entry). */
export function stateAt(h: readonly number[], pos: number): number {
  // Binary search for the last entry with position <= pos.
  let lo = 0;
  let hi = h.length / 2 - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (h[2 * mid]! <= pos) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found < 0 ? 0 : h[2 * found + 1]!;
}

/** Pages of the map by base state at position `pos`, plus the hazard-flagged count (index 4). */
export function countsAt(m: ReportModel, pos: number): number[] {
  const out = [0, 0, 0, 0, 0];
  for (let i = 0; i < m.runs.length; i += 3) {
    const n = m.runs[i + 1]!;
    const st = m.states[stateAt(m.histories[m.runs[i + 2]!]!, pos)]!;
    out[baseOf(st)]! += n;
    if (st[3] === 1) out[4]! += n;
  }
  return out;
}
