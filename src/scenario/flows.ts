/**
 * The named flows a scenario can run, over one machine and the state the flows keep between steps
 * (units set up, sessions, streams). Each flow is a host flow of `src/host/flows/`.
 *
 * {@link FLOWS} is the one table of them: the scenario schema reads its keys (`steps[i].flow`), the runner,
 * the fault-injection campaign and the size runs call its entries. Adding a flow is one entry here.
 */

import { extensionsBringUp } from "../host/flows/extensions.js";
import { type IommuSetupRecord, iommuClearAll, iommuSetupAll } from "../host/flows/iommu.js";
import { quoteFlow } from "../host/flows/quote.js";
import type { FlowResult } from "../host/flows/result.js";
import { type ConnectRecord, tdxConnectBringUp, tdxConnectTeardown } from "../host/flows/tdx-connect.js";
import type { Machine } from "../machine.js";

/** State flows keep between steps. */
export interface FlowState {
  iommus: IommuSetupRecord[];
  /** Other flows' state, by flow family. */
  readonly extra: Map<string, unknown>;
}

/** A named flow: runs on the machine and the state, returns one or more flow results. */
export type NamedFlow = (m: Machine, s: FlowState) => FlowResult[];

/** One flow of the table: what it does (for docs and help) and how it runs. */
export interface FlowDef {
  readonly summary: string;
  readonly run: NamedFlow;
}

function tdxConnect(m: Machine, s: FlowState): FlowResult[] {
  const r = tdxConnectBringUp(m.kernel, m.platform.devices ?? [], m.platform.rootPorts ?? []);
  const prev = s.extra.get("tdx-connect") as ConnectRecord | undefined;
  s.extra.set(
    "tdx-connect",
    prev === undefined
      ? r.built
      : { sessions: [...prev.sessions, ...r.built.sessions], streams: [...prev.streams, ...r.built.streams] },
  );
  return [r.result];
}

function tdxConnectDown(m: Machine, s: FlowState): FlowResult[] {
  const built = (s.extra.get("tdx-connect") as ConnectRecord | undefined) ?? { sessions: [], streams: [] };
  s.extra.delete("tdx-connect");
  return [tdxConnectTeardown(m.kernel, built)];
}

/** The flows `bring-up` and `teardown` are made of. */
const PARTS = {
  extensions: {
    summary: "TDX Module extensions bring-up (the memory pool)",
    run: (m) => [extensionsBringUp(m.kernel)],
  },
  "iommu-setup": {
    summary: "TDH.IOMMU.SETUP on every IOMMU unit (units that are not TDX-capable are probed and skipped)",
    run: (m, s) => {
      const r = iommuSetupAll(m.kernel, m.platform.iommus);
      s.iommus.push(...r.setups);
      return [r.result];
    },
  },
  "iommu-teardown": {
    summary: "TDH.IOMMU.CLEAR on every unit set up so far",
    run: (m, s) => {
      const r = iommuClearAll(m.kernel, s.iommus);
      s.iommus = [];
      return [r];
    },
  },
  "tdx-connect": { summary: "an SPDM session and an IDE stream per device", run: tdxConnect },
  "tdx-connect-teardown": {
    summary: "the streams and sessions of tdx-connect, torn down",
    run: tdxConnectDown,
  },
} as const satisfies Record<string, FlowDef>;

/** Names composed into `bring-up` and `teardown`, in order. */
export const BRING_UP: readonly (keyof typeof PARTS)[] = ["extensions", "iommu-setup", "tdx-connect"];
export const TEARDOWN: readonly (keyof typeof PARTS)[] = ["tdx-connect-teardown", "iommu-teardown"];

/** Runs the flows `names` in order. */
function sequence(names: readonly (keyof typeof PARTS)[]): NamedFlow {
  return (m, s) => names.flatMap((n) => PARTS[n].run(m, s));
}

/** Every flow a scenario step (`flow: NAME`) may run, by name. */
export const FLOWS = {
  ...PARTS,
  "bring-up": { summary: `${BRING_UP.join(", ")}, in order`, run: sequence(BRING_UP) },
  teardown: { summary: `${TEARDOWN.join(", ")}, in order`, run: sequence(TEARDOWN) },
  // DICE quoting (June 2026 series): the flow and its wrong-host variants (a list that loops, a list
  // shorter than the stated length, a private page in the list).
  quote: { summary: "TDH.QUOTE.GET with a correct page list", run: (m) => [quoteFlow(m.kernel)] },
  "quote-loop": {
    summary: "the quote flow with a page list that loops",
    run: (m) => [quoteFlow(m.kernel, "loop")],
  },
  "quote-short": {
    summary: "the quote flow with a list shorter than its stated length",
    run: (m) => [quoteFlow(m.kernel, "short")],
  },
  "quote-private-page": {
    summary: "the quote flow with a private page in the list",
    run: (m) => [quoteFlow(m.kernel, "private-page")],
  },
} as const satisfies Record<string, FlowDef>;

/** A flow's name: a key of {@link FLOWS}. */
export type FlowName = keyof typeof FLOWS;

/** The names of {@link FLOWS}, in table order. */
export const FLOW_NAMES: readonly FlowName[] = Object.freeze(Object.keys(FLOWS) as FlowName[]);

/** Whether `name` is a flow of {@link FLOWS}. */
export function isFlowName(name: string): name is FlowName {
  return Object.hasOwn(FLOWS, name);
}
