/**
 * Converts model events to the Trace Event format that Perfetto and chrome://tracing open: SEAMCALLs as
 * complete events on the module's track (duration = units of work, at least 1), steps as begin/end
 * events on the host's track, hazards and model reports as instant events, and counters of
 * module-owned and host-allocated pages. Timestamps are the model's virtual time in "µs" (units of
 * work), so a trace is the same on every machine.
 */
import type { ModelEvent } from "./events.js";

/** One Trace Event object. */
export type TraceEvent = Record<string, unknown>;

/** Stateful converter (keeps the page counters). */
export class ChromeTraceConverter {
  private moduleOwned = 0;
  private hostAllocated = 0;
  private countersDirty = false;

  /** Metadata events naming the process and tracks; emit once first. */
  header(title: string): TraceEvent[] {
    return [
      { name: "process_name", ph: "M", pid: 1, tid: 0, args: { name: `tdxpa: ${title}` } },
      { name: "thread_name", ph: "M", pid: 1, tid: 0, args: { name: "host" } },
      { name: "thread_name", ph: "M", pid: 1, tid: 1, args: { name: "TDX Module" } },
    ];
  }

  /** The Trace Events for one model event (often none: page changes only move counters). */
  convert(e: ModelEvent): TraceEvent[] {
    switch (e.type) {
      case "seamcall": {
        const out: TraceEvent[] = [
          {
            name: e.leaf,
            cat: "seamcall",
            ph: "X",
            ts: e.t,
            dur: Math.max(1, e.units),
            pid: 1,
            tid: 1,
            args: {
              seq: e.seq,
              status: e.status,
              inputs: e.inputs,
              outputs: e.outputs,
              units: e.units,
              forced: e.forced,
              ...(e.cpu === undefined ? {} : { cpu: e.cpu }),
            },
          },
        ];
        if (this.countersDirty) out.push(...this.counters(e.t + Math.max(1, e.units)));
        return out;
      }
      case "phase":
        return [
          { name: e.name, cat: "step", ph: e.edge === "begin" ? "B" : "E", ts: e.t, pid: 1, tid: 0 },
          ...(e.edge === "end" ? this.counters(e.t) : []),
        ];
      case "hazard":
        return [
          {
            name: `hazard: ${e.kind}`,
            cat: "hazard",
            ph: "i",
            s: "g",
            ts: e.t,
            pid: 1,
            tid: 0,
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
            ts: e.t,
            pid: 1,
            tid: 1,
            args: { pfn: `0x${e.pfn.toString(16)}`, cause: e.cause, message: e.message },
          },
        ];
      case "page": {
        const wasOwned = e.from !== "PT_NDA" && e.from !== "PT_RSVD";
        const isOwned = e.to !== "PT_NDA" && e.to !== "PT_RSVD";
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

  private counters(ts: number): TraceEvent[] {
    this.countersDirty = false;
    return [
      {
        name: "pages",
        ph: "C",
        ts,
        pid: 1,
        args: { "module-owned": this.moduleOwned, "host-allocated": this.hostAllocated },
      },
    ];
  }
}
