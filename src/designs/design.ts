/**
 * The common shape of every `tdx_page_array` design the comparison runs (docs/spec/02-kapi.md 2.7): a name, a
 * one-line description, the host policy it needs, the allocator tags of the pages it allocates for
 * itself (root pages and other metadata, as opposed to the data pages handed to the module), and one
 * entry per flow: a function that runs the flow on a fresh machine, or the reason the design cannot
 * express it.
 *
 * Each flow brings its objects up and takes them down again (extensions excepted: the pool is never
 * returned), so one run of a flow on a fresh machine measures a whole life cycle.
 */
import type { HostPolicy } from "../host/kernel.js";
import type { Machine } from "../machine.js";

/** The flows every design is driven through, in table order. */
export const DESIGN_FLOWS = ["extensions", "iommu", "spdm", "ide"] as const;

/** One flow of {@link DESIGN_FLOWS}. */
export type DesignFlow = (typeof DESIGN_FLOWS)[number];

/** What each flow does, for table headers and docs. */
export const FLOW_SUMMARY: Readonly<Record<DesignFlow, string>> = Object.freeze({
  extensions: "extensions bring-up: MEMORY_POOL_REQUIRED_PAGES via TDH.EXT.MEM.ADD, then TDH.EXT.INIT",
  iommu: "TDH.IOMMU.SETUP of every unit (IOMMU_MT), then TDH.IOMMU.CLEAR, write-back, free",
  spdm: "per device: SPDM.CREATE, CONNECT (device-info buffer); then per device DISCONNECT, DELETE, release",
  ide: "per device: SPDM session + IDE.STREAM.CREATE, KM SETUP; then KM STOP, BLOCK, DELETE; sessions down",
});

/** What a design's flow reports. The comparison measures everything else from the machine. */
export interface FlowOutcome {
  readonly ok: boolean;
  /** The step that failed (null when ok). */
  readonly failedStep: string | null;
}

/** A flow the design can run, or why it cannot. */
export type FlowImpl = ((machine: Machine) => FlowOutcome) | { readonly unsupported: string };

/** One design of the kAPI. */
export interface Design {
  /** Column name: "v2", "draft", "split", "hpa_list". */
  readonly name: string;
  /** Date and one line: what the design is. */
  readonly description: string;
  /** Host policy the machine is built with (e.g. the draft's head-page-only write-back variant). */
  readonly policy?: Partial<HostPolicy>;
  /** Allocator tags of root pages (each allocation counts one root page). */
  readonly rootTags: readonly string[];
  /** Allocator tags of any other memory the design allocates for itself (counted in extra memory). */
  readonly metaTags: readonly string[];
  /** Source files of the design's host code, relative to the package root (for the size figures). */
  readonly sources: readonly string[];
  /** Source files of the flow code it runs, shared with other designs (for the size figures). */
  readonly sharedSources: readonly string[];
  readonly flows: Readonly<Record<DesignFlow, FlowImpl>>;
}

/** True when a flow entry is a reason, not a function. */
export function isUnsupported(f: FlowImpl): f is { readonly unsupported: string } {
  return typeof f !== "function";
}

/** A {@link FlowOutcome} from a failing step (null: success). */
export function outcome(failedStep: string | null): FlowOutcome {
  return { ok: failedStep === null, failedStep };
}
