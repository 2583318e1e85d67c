/**
 * The model's event stream: every SEAMCALL (decoded), PAMT change, allocation and free, hazard, model
 * report and stranding, as plain objects. Traces (JSON Lines, Chrome Trace Event format) and reports
 * are built from it. {@link attachEvents} wires a listener into a machine; with none attached the
 * model pays nothing for events.
 */

import { setKapiListener } from "../host/kapi-trace.js";
import type { Hazard } from "../hw/cache.js";
import type { Machine } from "../machine.js";
import type { ModelReport } from "../module/emulator.js";
import { ptName } from "../module/pamt.js";
import { type CallDescription, describeCall } from "./describe-call.js";
import { type RootView, readRootView } from "./root-pages.js";

/** One event. `t` is the model's virtual time: units of work done so far (a SEAMCALL's units advance it). */
export type ModelEvent =
  | ({
      readonly type: "seamcall";
      readonly t: number;
      readonly root?: RootView;
      /** Logical CPU, present only for calls on a CPU other than 0. */
      readonly cpu?: number;
    } & CallDescription)
  | {
      readonly type: "page";
      readonly t: number;
      readonly pfn: number;
      readonly from: string;
      readonly to: string;
      readonly owner: number;
    }
  | {
      readonly type: "alloc";
      readonly t: number;
      readonly pfn: number;
      readonly pages: number;
      readonly tag: string;
    }
  | { readonly type: "free"; readonly t: number; readonly pfn: number }
  | ({ readonly type: "hazard"; readonly t: number } & Hazard)
  | ({ readonly type: "report"; readonly t: number } & ModelReport)
  | { readonly type: "phase"; readonly t: number; readonly name: string; readonly edge: "begin" | "end" }
  /** A host kAPI function (`tdh_ext_mem_add`, …) began or ended; its SEAMCALLs fall in between. */
  | { readonly type: "kapi"; readonly t: number; readonly name: string; readonly edge: "begin" | "end" };

/** A listener of model events. */
export type EventSink = (e: ModelEvent) => void;

/** Detaches a listener. */
export type Detach = () => void;

/**
 * Attaches `sink` to every event source of `m`. Options turn off the high-volume kinds (page changes
 * and frees are one event per 4 KiB page; `kapi` spans are one pair per host kAPI call). Returns a function that detaches it and a clock.
 */
export function attachEvents(
  m: Machine,
  sink: EventSink,
  opts: { pages?: boolean; frees?: boolean; roots?: boolean; kapi?: boolean } = {},
): { detach: Detach; now: () => number } {
  let t = 0;
  const shift = m.platform.keyIds.shift;
  const roots = opts.roots !== false;
  m.module.onCall = (r) => {
    const root = roots ? readRootView(m.mem, m.platform, r.leaf, r.regsIn) : null;
    const cpu = r.cpu === 0 ? {} : { cpu: r.cpu };
    sink(
      root === null
        ? { type: "seamcall", t, ...describeCall(r, shift), ...cpu }
        : { type: "seamcall", t, ...describeCall(r, shift), root, ...cpu },
    );
    t += Math.max(1, r.units);
  };
  if (opts.pages !== false) {
    m.module.pamt.onChange = (pfn, from, to, owner) =>
      sink({ type: "page", t, pfn, from: ptName(from), to: ptName(to), owner });
  }
  const hooks = m.alloc.hooks;
  m.alloc.hooks = {
    ...hooks,
    onAlloc: (pfn, pages, tag) => {
      hooks.onAlloc?.(pfn, pages, tag);
      sink({ type: "alloc", t, pfn, pages, tag });
    },
    ...(opts.frees === false
      ? {}
      : {
          onFree: (pfn: number) => {
            hooks.onFree?.(pfn);
            sink({ type: "free", t, pfn });
          },
        }),
  };
  m.cache.onHazard = (h) => sink({ type: "hazard", t, ...h });
  if (opts.kapi !== false) setKapiListener(m.kernel, (name, edge) => sink({ type: "kapi", t, name, edge }));
  m.module.onReport = (r) => sink({ type: "report", t, ...r });
  return {
    now: () => t,
    detach: () => {
      m.module.onCall = null;
      m.module.pamt.onChange = null;
      m.alloc.hooks = hooks;
      m.cache.onHazard = null;
      m.module.onReport = null;
      setKapiListener(m.kernel, null);
    },
  };
}
