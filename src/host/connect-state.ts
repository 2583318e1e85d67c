/**
 * The host's TDX Connect initialisation state (docs/spec/02-kapi.md 2.5, docs/spec/03-module.md 3.3):
 * whether the host configured the module with TDH.SYS.CONFIG, and whether TDX Connect initialisation
 * failed. The kernel keeps this in its driver; flows that belong to TDX Connect (extensions, IOMMU,
 * SPDM, IDE) ask {@link tdxConnectGate} before they run:
 *
 * - TDX Connect needs TDX_FEATURES0 bit 6; without it the flows do not run (skipped, not failed).
 * - The first flow configures the module: TDH.SYS.CONFIG version 1 with the global KeyID and the
 *   features to enable (bit 6 when the module has it; Extensions come with TDX Connect). Feature
 *   metadata (the pool size, EXT_REQUIRED, the Connect page counts) is valid only after it.
 * - A failed extensions bring-up, or an IOMMU.SETUP failure other than "not TDX-capable", fails TDX
 *   Connect initialisation ({@link failTdxConnect}): no later TDX Connect flow runs.
 */
import type { U64 } from "../common/u64.js";
import { getBits, setBits } from "../common/u64.js";
import { FEATURE_BITS } from "../hw/platform.js";
import type { HostKernel } from "./kernel.js";
import { ok, sysConfig, sysRd } from "./seamcalls/index.js";

/** What the host knows about TDX Connect initialisation. */
export interface ConnectState {
  /** TDX_FEATURES0 as read (null until read). */
  features: U64 | null;
  /** Set once TDH.SYS.CONFIG succeeded. */
  configured: boolean;
  /** Why TDX Connect initialisation failed (null while it has not). */
  failed: string | null;
}

const states = new WeakMap<HostKernel, ConnectState>();

/** The TDX Connect state of kernel `k`. */
export function connectState(k: HostKernel): ConnectState {
  let s = states.get(k);
  if (s === undefined) {
    s = { features: null, configured: false, failed: null };
    states.set(k, s);
  }
  return s;
}

/** Records that TDX Connect initialisation failed (`why`): later TDX Connect flows do not run. */
export function failTdxConnect(k: HostKernel, why: string): void {
  connectState(k).failed ??= why;
}

/** What the gate decided: run, skip (with the reason), or fail (the step and its status). */
export type GateResult =
  | { readonly run: true; readonly features: U64 }
  | { readonly run: false; readonly skipped: string }
  | { readonly run: false; readonly failedStep: string; readonly status: U64 | null };

/**
 * The gate of every TDX Connect flow (see the file's doc). `bit` is the TDX_FEATURES0 bit the flow
 * needs (6 TDX Connect; the extensions bring-up asks for 39).
 */
export function tdxConnectGate(k: HostKernel, bit: number = FEATURE_BITS.TDX_CONNECT): GateResult {
  const s = connectState(k);
  if (s.failed !== null) return { run: false, skipped: `TDX Connect initialisation failed: ${s.failed}` };
  if (s.features === null) {
    const f = sysRd(k, "TDX_FEATURES0");
    if (!ok(f.status)) return { run: false, failedStep: "TDH.SYS.RD TDX_FEATURES0", status: f.status };
    s.features = f.value;
  }
  const has = (b: number) => getBits(s.features!.lo, s.features!.hi, b, 1) === 1;
  if (!has(bit)) {
    const what =
      bit === FEATURE_BITS.TDX_CONNECT
        ? "TDX Connect"
        : bit === FEATURE_BITS.EXTENSIONS
          ? "extensions"
          : "feature";
    return { run: false, skipped: `module does not advertise ${what} (TDX_FEATURES0 bit ${bit})` };
  }
  if (!s.configured) {
    const want = has(FEATURE_BITS.TDX_CONNECT)
      ? setBits(0, 0, FEATURE_BITS.TDX_CONNECT, 1, 1)
      : { lo: 0, hi: 0 };
    const r = sysConfig(k, want);
    if (!ok(r.status)) {
      failTdxConnect(k, "TDH.SYS.CONFIG failed");
      return { run: false, failedStep: "TDH.SYS.CONFIG", status: r.status };
    }
    s.configured = true;
  }
  return { run: true, features: s.features };
}
