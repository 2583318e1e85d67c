/**
 * Names the module objects a run creates, as a trace reader sees them: from each SEAMCALL (leaf,
 * decoded operands and outputs) and the platform's description. TDH.IOMMU.SETUP names the unit by its
 * register base and learns its id; TDH.SPDM.CREATE names the device by its function id and learns the
 * session id; TDH.IDE.STREAM.CREATE learns the stream id of that session's device; the extension
 * memory pool is fed by TDH.EXT.MEM.ADD (docs/spec/03-module.md). Used by Chrome traces (one track per
 * IOMMU unit and device) and the HTML report (the page map grouped by object). Core code.
 */
import { u64ToHex } from "../common/u64.js";
import { functionId } from "../host/spdm.js";
import type { PcieDeviceSpec } from "../hw/devices.js";
import type { CallDescription } from "./describe-call.js";

/** What the namer knows of the platform (both optional: unknown objects get their raw ids). */
export interface ObjectNamerOptions {
  readonly iommus?: readonly { readonly name: string; readonly regBase: number }[];
  readonly devices?: readonly PcieDeviceSpec[];
}

/** The object a call concerns. */
export interface CallObject {
  /** `pool`, an IOMMU unit, or a device (its SPDM session and IDE streams). */
  readonly kind: "pool" | "iommu" | "session" | "stream";
  /** The unit's or device's name (e.g. `dmar0-socket0-pcie0`, `nic0`); for the pool its name. */
  readonly name: string;
  /** A label for the object itself: `IOMMU dmar0-…`, `SPDM session nic0`, `IDE stream 5 (nic0)`. */
  readonly label: string;
}

/** Learns object ids from calls in order; see the file comment. */
export class ObjectNamer {
  private readonly unitByRegBase = new Map<string, string>();
  private readonly unitById = new Map<string, string>();
  private readonly deviceByFn = new Map<string, string>();
  private readonly deviceBySession = new Map<string, string>();
  private readonly deviceByStream = new Map<string, string>();

  constructor(opts: ObjectNamerOptions = {}) {
    for (const u of opts.iommus ?? []) this.unitByRegBase.set(`0x${u.regBase.toString(16)}`, u.name);
    for (const d of opts.devices ?? []) {
      const f = functionId(d);
      this.deviceByFn.set(u64ToHex(f.lo, f.hi), d.name);
    }
  }

  /**
   * The object call `e` concerns, learning any id it returns; null for calls about no object.
   * @example namer.observe(seamcallEvent)?.label // "IOMMU dmar0-socket0-pcie0"
   */
  observe(e: Pick<CallDescription, "leaf" | "inputs" | "outputs" | "statusName">): CallObject | null {
    const rcxIn = e.inputs.RCX ?? "";
    const rdxIn = e.inputs.RDX ?? "";
    const rcxOut = e.outputs.RCX;
    const ok = e.statusName === "TDX_SUCCESS";
    const iommu = (name: string): CallObject => ({ kind: "iommu", name, label: `IOMMU ${name}` });
    const session = (name: string): CallObject => ({ kind: "session", name, label: `SPDM session ${name}` });
    const stream = (id: string, name: string): CallObject => ({
      kind: "stream",
      name,
      label: `IDE stream ${id} (${name})`,
    });
    switch (e.leaf) {
      case "TDH.EXT.MEM.ADD":
      case "TDH.EXT.INIT":
        return { kind: "pool", name: "extension memory pool", label: "extension memory pool" };
      case "TDH.IOMMU.SETUP": {
        const name = this.unitByRegBase.get(rcxIn) ?? `@${rcxIn}`;
        if (ok && rcxOut !== undefined) this.unitById.set(rcxOut, name);
        return iommu(name);
      }
      case "TDH.IOMMU.CLEAR":
        return iommu(this.unitById.get(rcxIn) ?? `id ${rcxIn}`);
      case "TDH.SPDM.CREATE": {
        const name = this.deviceByFn.get(rcxIn) ?? `fn ${rcxIn}`;
        if (ok && rcxOut !== undefined) this.deviceBySession.set(rcxOut, name);
        return session(name);
      }
      case "TDH.SPDM.CONNECT":
      case "TDH.SPDM.DISCONNECT":
      case "TDH.SPDM.MNG":
      case "TDH.SPDM.DELETE":
        return session(this.deviceBySession.get(rcxIn) ?? `id ${rcxIn}`);
      case "TDH.IDE.STREAM.CREATE": {
        // RCX = stream_info, RDX = SPDM id (docs/spec/03-module.md 3.3); out RCX = stream id.
        const name = this.deviceBySession.get(rdxIn) ?? `session ${rdxIn}`;
        if (ok && rcxOut !== undefined) {
          this.deviceByStream.set(rcxOut, name);
          return stream(rcxOut, name);
        }
        return stream("?", name);
      }
      case "TDH.IDE.STREAM.KM":
      case "TDH.IDE.STREAM.BLOCK":
      case "TDH.IDE.STREAM.DELETE":
        // RCX = SPDM id, RDX = stream id.
        return stream(rdxIn, this.deviceByStream.get(rdxIn) ?? `id ${rdxIn}`);
      default:
        return null;
    }
  }
}
