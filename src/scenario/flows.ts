/**
 * The named flows a scenario can run, over one machine and the state the flows keep between steps
 * (units set up, sessions, streams). Each flow is a host flow of `src/host/flows/`.
 */

import { extensionsBringUp } from "../host/flows/extensions.js";
import { type IommuSetupRecord, iommuClearAll, iommuSetupAll } from "../host/flows/iommu.js";
import { quoteFlow } from "../host/flows/quote.js";
import type { FlowResult } from "../host/flows/result.js";
import { type ConnectRecord, tdxConnectBringUp, tdxConnectTeardown } from "../host/flows/tdx-connect.js";
import type { Machine } from "../machine.js";
import { FLOW_NAMES } from "./schema.js";

/** State flows keep between steps. */
export interface FlowState {
  iommus: IommuSetupRecord[];
  /** Other flows' state, by flow family. */
  readonly extra: Map<string, unknown>;
}

/** A named flow: runs on the machine and the state, returns one or more flow results. */
export type NamedFlow = (m: Machine, s: FlowState) => FlowResult[];

/** The registry. Flow families add themselves with {@link registerFlow}. */
export const FLOWS = new Map<string, NamedFlow>();

/** Adds a flow by name (also to the names scenarios may use). */
export function registerFlow(name: string, f: NamedFlow): void {
  FLOWS.set(name, f);
  if (!FLOW_NAMES.includes(name)) FLOW_NAMES.push(name);
}

/** Names composed into `bring-up` and `teardown`, in order; families append theirs. */
export const BRING_UP: string[] = ["extensions", "iommu-setup", "tdx-connect"];
export const TEARDOWN: string[] = ["tdx-connect-teardown", "iommu-teardown"];

registerFlow("extensions", (m) => [extensionsBringUp(m.kernel)]);
registerFlow("iommu-setup", (m, s) => {
  const r = iommuSetupAll(m.kernel, m.platform.iommus);
  s.iommus.push(...r.setups);
  return [r.result];
});
registerFlow("iommu-teardown", (m, s) => {
  const r = iommuClearAll(m.kernel, s.iommus);
  s.iommus = [];
  return [r];
});
registerFlow("tdx-connect", (m, s) => {
  const r = tdxConnectBringUp(m.kernel, m.platform.devices ?? [], m.platform.rootPorts ?? []);
  const prev = s.extra.get("tdx-connect") as ConnectRecord | undefined;
  s.extra.set(
    "tdx-connect",
    prev === undefined
      ? r.built
      : { sessions: [...prev.sessions, ...r.built.sessions], streams: [...prev.streams, ...r.built.streams] },
  );
  return [r.result];
});
registerFlow("tdx-connect-teardown", (m, s) => {
  const built = (s.extra.get("tdx-connect") as ConnectRecord | undefined) ?? { sessions: [], streams: [] };
  s.extra.delete("tdx-connect");
  return [tdxConnectTeardown(m.kernel, built)];
});
registerFlow("bring-up", (m, s) => BRING_UP.flatMap((n) => FLOWS.get(n)!(m, s)));
registerFlow("teardown", (m, s) => TEARDOWN.flatMap((n) => FLOWS.get(n)!(m, s)));

// DICE quoting (June 2026 series): the flow and its wrong-host variants (a list that loops, a list
// shorter than the stated length, a private page in the list).
registerFlow("quote", (m) => [quoteFlow(m.kernel)]);
registerFlow("quote-loop", (m) => [quoteFlow(m.kernel, "loop")]);
registerFlow("quote-short", (m) => [quoteFlow(m.kernel, "short")]);
registerFlow("quote-private-page", (m) => [quoteFlow(m.kernel, "private-page")]);
