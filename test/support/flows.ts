/**
 * The one `fullRun` of the test suite (issue 11 item 5): the whole platform flow a TDX Connect host runs,
 * with every SEAMCALL recorded and conservation checked after bring-up and at the end.
 */
import { LEAF } from "../../src/common/status.js";
import { extensionsBringUp } from "../../src/host/flows/extensions.js";
import { iommuSetupAll } from "../../src/host/flows/iommu.js";
import { platformTeardown, tdxConnectBringUp } from "../../src/host/flows/tdx-connect.js";
import type { Machine } from "../../src/machine.js";
import type { CallRecord } from "../../src/module/index.js";
import { checkConservation } from "../../src/observe/conservation.js";

/**
 * Extensions, IOMMUs, TDX Connect (one session and stream per device), then the whole platform teardown.
 * Returns each step's result, every call the module saw (`calls`; `n(leaf)` counts one leaf's), and the
 * conservation check after bring-up (`afterUp`) and at the end (`end`).
 */
export function fullRun(m: Machine) {
  const calls: CallRecord[] = [];
  m.module.onCall = (r) => calls.push(r);
  const ext = extensionsBringUp(m.kernel);
  const io = iommuSetupAll(m.kernel, m.platform.iommus);
  const up = tdxConnectBringUp(m.kernel, m.platform.devices!, m.platform.rootPorts!);
  const afterUp = checkConservation(m);
  const down = platformTeardown(m.kernel, { connect: up.built, iommus: io.setups });
  const n = (leaf: keyof typeof LEAF) => calls.filter((c) => c.leaf === LEAF[leaf]).length;
  return { ext, io, up, afterUp, down, calls, n, end: checkConservation(m) };
}
