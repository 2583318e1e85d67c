/**
 * TDX Connect bring-up and the whole-platform teardown (docs/spec/02-kapi.md 2.5): after the extensions
 * and the IOMMUs are up, and only when TDX Connect initialisation has not failed and the module
 * advertises TDX Connect (the gate of `connect-state.ts`), one SPDM session and one IDE stream per device
 * (a selective stream through the device's root port; the module picks the stream's register block and
 * returns its root-port IDE id); teardown takes streams down, then sessions, then the IOMMUs. A failure
 * of one device does not stop the others; its pages are stranded per 2.6.
 */
import type { PcieDeviceSpec, RootPortSpec } from "../../hw/devices.js";
import { tdxConnectGate } from "../connect-state.js";
import type { HostKernel } from "../kernel.js";
import { type IdeStreamRecord, ideStreamSetup, ideStreamTeardown } from "./ide.js";
import { type IommuSetupRecord, iommuClearAll } from "./iommu.js";
import { FlowRecorder, type FlowResult } from "./result.js";
import { type SpdmSessionRecord, spdmSessionConnect, spdmSessionTeardown } from "./spdm.js";

/** What the bring-up built, per device. */
export interface ConnectRecord {
  readonly sessions: SpdmSessionRecord[];
  readonly streams: IdeStreamRecord[];
}

function absorb(rec: FlowRecorder, r: FlowResult, first: { v: FlowResult | null }): void {
  rec.interrupts += r.interrupts;
  rec.stranded += r.strandedPages;
  if (!r.ok) first.v ??= r;
}

function finish(rec: FlowRecorder, first: FlowResult | null): FlowResult {
  return first === null
    ? rec.ok()
    : { ...rec.fail(first.failedStep ?? first.flow, null), failedStatus: first.failedStatus };
}

/** Connects every device and sets up one stream for each; returns the flow result and the records. */
export function tdxConnectBringUp(
  k: HostKernel,
  devices: readonly PcieDeviceSpec[],
  rootPorts: readonly RootPortSpec[],
): { result: FlowResult; built: ConnectRecord } {
  const rec = new FlowRecorder("tdx-connect");
  const built: ConnectRecord = { sessions: [], streams: [] };
  const stopped = rec.stopAtGate(tdxConnectGate(k));
  if (stopped !== null) return { result: stopped, built };
  const first = { v: null as FlowResult | null };
  for (const d of devices) {
    const c = spdmSessionConnect(k, d);
    absorb(rec, c.result, first);
    if (c.session === null) continue;
    built.sessions.push(c.session);
    const port = rootPorts.findIndex((p) => p.name === d.rootPort);
    const s = ideStreamSetup(k, c.session, rootPorts, port);
    absorb(rec, s.result, first);
    if (s.stream !== null) built.streams.push(s.stream);
  }
  rec.details.sessions = built.sessions.length;
  rec.details.streams = built.streams.length;
  if (first.v !== null) rec.details.failedFlow = first.v.flow;
  return { result: finish(rec, first.v), built };
}

/** Tears down every stream, then every session. */
export function tdxConnectTeardown(k: HostKernel, built: ConnectRecord): FlowResult {
  const rec = new FlowRecorder("tdx-connect-teardown");
  const first = { v: null as FlowResult | null };
  for (const s of built.streams) absorb(rec, ideStreamTeardown(k, s), first);
  for (const s of built.sessions) absorb(rec, spdmSessionTeardown(k, s), first);
  return finish(rec, first.v);
}

/** The whole platform teardown after the extension, IOMMU and TDX Connect flows: streams, sessions, IOMMUs. */
export function platformTeardown(
  k: HostKernel,
  parts: { connect: ConnectRecord; iommus: readonly IommuSetupRecord[] },
): FlowResult {
  const rec = new FlowRecorder("platform-teardown");
  const first = { v: null as FlowResult | null };
  absorb(rec, tdxConnectTeardown(k, parts.connect), first);
  absorb(rec, iommuClearAll(k, parts.iommus), first);
  return finish(rec, first.v);
}
