/**
 * Converts model events to the Trace Event format that Perfetto and chrome://tracing open.
 *
 * Tracks: process "host" has one track for the scenario's steps and one per logical CPU, on which each
 * host kAPI function (`tdh_ext_mem_add`, …; docs/spec/02-kapi.md 2.3) is a span around the SEAMCALLs it
 * issued; process "IOMMU units" has one track per unit and process "devices" one per PCIe device (its
 * SPDM session and IDE streams), each showing the SEAMCALLs that concern it (docs/spec/03-module.md).
 * A call interrupted with TDX_INTERRUPTED_RESUMABLE has a flow arrow to its resumption. Hazards and
 * model reports are instant events; module-owned and host-allocated pages are counters.
 *
 * Time: the model's clock counts units of work (a SEAMCALL's units advance it), not seconds. One unit
 * is written as 1 ns (`ts` in µs is units / 1000) and `displayTimeUnit` is `ns`, so the figures a
 * viewer shows are unit counts. A trace is the same on every machine.
 */
import { isModuleType, type ModelEvent } from "./events.js";
import { ObjectNamer, type ObjectNamerOptions } from "./object-names.js";

/** One Trace Event object. */
export type TraceEvent = Record<string, unknown>;

/** The top-level fields of a Chrome trace file other than `traceEvents`. */
export const CHROME_TRACE_META = Object.freeze({
  displayTimeUnit: "ns",
  otherData: { generator: "tdxpa", clock: "units of work: 1 ns of trace time = 1 unit" },
});

/** A whole Chrome trace file. */
export interface ChromeTrace {
  readonly displayTimeUnit: string;
  readonly otherData: Readonly<Record<string, string>>;
  readonly traceEvents: TraceEvent[];
}

/** What the converter knows of the platform, to name object tracks (optional). */
export type ChromeTraceOptions = ObjectNamerOptions;

const PID = { host: 1, iommu: 2, device: 3 } as const;
/** Track of the scenario's steps; logical CPU n is track n + 1. */
const STEPS_TID = 0;
const ts = (t: number) => t / 1000;

/** Stateful converter (keeps page counters, track names and pending resumptions). */
export class ChromeTraceConverter {
  private moduleOwned = 0;
  private hostAllocated = 0;
  private countersDirty = false;
  private readonly tracks = new Map<string, { pid: number; tid: number }>();
  private readonly namer: ObjectNamer;
  /** Interrupted call awaiting its resumption: `cpu leaf` → flow id. */
  private readonly pendingResume = new Map<string, number>();
  private nextFlow = 1;
  private pendingMeta: TraceEvent[] = [];

  constructor(opts: ChromeTraceOptions = {}) {
    this.namer = new ObjectNamer(opts);
  }

  /** Metadata events naming the processes and the steps track; emit once first. */
  header(title: string): TraceEvent[] {
    return [
      { name: "process_name", ph: "M", pid: PID.host, tid: 0, args: { name: `tdxpa: ${title} (host)` } },
      { name: "process_name", ph: "M", pid: PID.iommu, tid: 0, args: { name: "IOMMU units" } },
      { name: "process_name", ph: "M", pid: PID.device, tid: 0, args: { name: "devices" } },
      { name: "thread_name", ph: "M", pid: PID.host, tid: STEPS_TID, args: { name: "scenario steps" } },
    ];
  }

  /** The Trace Events for one model event (often none: page changes only move counters). */
  convert(e: ModelEvent): TraceEvent[] {
    switch (e.type) {
      case "seamcall":
        return this.seamcall(e);
      case "kapi": {
        const cpu = this.cpuTrack(0);
        return [
          ...this.flushMeta(),
          { name: e.name, cat: "kapi", ph: e.edge === "begin" ? "B" : "E", ts: ts(e.t), ...cpu },
        ];
      }
      case "phase":
        return [
          {
            name: e.name,
            cat: "step",
            ph: e.edge === "begin" ? "B" : "E",
            ts: ts(e.t),
            pid: PID.host,
            tid: STEPS_TID,
          },
          ...(e.edge === "end" ? this.counters(e.t) : []),
        ];
      case "hazard":
        return [
          {
            name: `hazard: ${e.kind}`,
            cat: "hazard",
            ph: "i",
            s: "g",
            ts: ts(e.t),
            pid: PID.host,
            tid: STEPS_TID,
            args: { pfn: `0x${e.pfn.toString(16)}`, keyIds: e.keyIds, cause: e.cause, message: e.message },
          },
        ];
      case "report":
        return [
          {
            name: `report: ${e.kind}`,
            cat: "report",
            ph: "i",
            s: "g",
            ts: ts(e.t),
            pid: PID.host,
            tid: STEPS_TID,
            args: { pfn: `0x${e.pfn.toString(16)}`, cause: e.cause, message: e.message },
          },
        ];
      case "page": {
        const wasOwned = isModuleType(e.from);
        const isOwned = isModuleType(e.to);
        if (wasOwned !== isOwned) {
          this.moduleOwned += isOwned ? 1 : -1;
          this.countersDirty = true;
        }
        return [];
      }
      case "alloc":
        this.hostAllocated += e.pages;
        this.countersDirty = true;
        return [];
      case "free":
        this.hostAllocated -= 1;
        this.countersDirty = true;
        return [];
    }
  }

  private seamcall(e: Extract<ModelEvent, { type: "seamcall" }>): TraceEvent[] {
    const cpuNo = e.cpu ?? 0;
    const cpu = this.cpuTrack(cpuNo);
    const dur = ts(Math.max(1, e.units));
    const args = {
      seq: e.seq,
      status: e.status,
      inputs: e.inputs,
      outputs: e.outputs,
      units: e.units,
      forced: e.forced,
    };
    const out: TraceEvent[] = [{ name: e.leaf, cat: "seamcall", ph: "X", ts: ts(e.t), dur, ...cpu, args }];
    // Flow arrows: interrupted call → the next call of the same leaf on the same CPU (its resumption).
    const key = `${cpuNo} ${e.leaf}`;
    const resumed = this.pendingResume.get(key);
    if (resumed !== undefined) {
      out.push({ name: "resume", cat: "resume", ph: "f", bp: "e", id: resumed, ts: ts(e.t), ...cpu });
      this.pendingResume.delete(key);
    }
    if (e.statusName === "TDX_INTERRUPTED_RESUMABLE") {
      const id = this.nextFlow++;
      out.push({ name: "resume", cat: "resume", ph: "s", id, ts: ts(e.t), ...cpu });
      this.pendingResume.set(key, id);
    }
    const obj = this.objectTrack(e);
    if (obj !== null)
      out.push({
        name: e.leaf,
        cat: "object",
        ph: "X",
        ts: ts(e.t),
        dur,
        ...obj,
        args: { seq: e.seq, status: e.status },
      });
    if (this.countersDirty) out.push(...this.counters(e.t + Math.max(1, e.units)));
    return [...this.flushMeta(), ...out];
  }

  /** The IOMMU unit's or device's track of a call, or null (the pool and unnamed calls have none). */
  private objectTrack(e: Extract<ModelEvent, { type: "seamcall" }>): { pid: number; tid: number } | null {
    const o = this.namer.observe(e);
    if (o === null || o.kind === "pool") return null;
    return this.track(o.kind === "iommu" ? PID.iommu : PID.device, o.name);
  }

  private cpuTrack(cpu: number): { pid: number; tid: number } {
    return this.track(PID.host, `CPU ${cpu}`, cpu + 1);
  }

  /** The track named `name` in process `pid`, named by a metadata event the first time it is used. */
  private track(pid: number, name: string, tid?: number): { pid: number; tid: number } {
    const key = `${pid} ${name}`;
    let t = this.tracks.get(key);
    if (t === undefined) {
      t = { pid, tid: tid ?? this.tracks.size + 100 };
      this.tracks.set(key, t);
      this.pendingMeta.push({ name: "thread_name", ph: "M", pid, tid: t.tid, args: { name } });
    }
    return t;
  }

  private flushMeta(): TraceEvent[] {
    const m = this.pendingMeta;
    this.pendingMeta = [];
    return m;
  }

  private counters(t: number): TraceEvent[] {
    this.countersDirty = false;
    return [
      {
        name: "pages",
        ph: "C",
        ts: ts(t),
        pid: PID.host,
        args: { "module-owned": this.moduleOwned, "host-allocated": this.hostAllocated },
      },
    ];
  }
}

/**
 * A whole Chrome trace of `events` (for a library user; `tdxpa run --trace x.json` streams the same).
 * @example JSON.stringify(chromeTrace(events, "my run", { iommus: m.platform.iommus }))
 */
export function chromeTrace(
  events: Iterable<ModelEvent>,
  title: string,
  opts: ChromeTraceOptions = {},
): ChromeTrace {
  const c = new ChromeTraceConverter(opts);
  const traceEvents = c.header(title);
  for (const e of events) traceEvents.push(...c.convert(e));
  return { ...CHROME_TRACE_META, traceEvents };
}
