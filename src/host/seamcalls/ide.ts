/**
 * Host-side wrappers of the IDE stream leaves (docs/spec/02-kapi.md 2.3, 2.4) on the register table of
 * docs/spec/03-module.md 3.3: TDH.IDE.STREAM.CREATE, KM, BLOCK and DELETE.
 *
 * The create wrapper hands the stream's metadata pages to the module as private memory: it CLFLUSHes
 * first (per policy) and sets the descriptor's flush flag before the SEAMCALL, whatever the result (the
 * kernel; policy `flushFlag`). TDH.IDE.STREAM.KM is an extension call that talks to the device: it goes
 * through `spdmExchange` (`spdm.ts`). The stream inputs the host chooses are built by `selectiveStream`
 * in `../spdm.ts`.
 */
import { REG } from "../../common/status.js";
import { type U64, u64FromNumber } from "../../common/u64.js";
import { kapiSpan } from "../kapi-trace.js";
import type { HostKernel } from "../kernel.js";
import type { TdxPageArray } from "../page-array.js";
import type { SpdmChannel, StreamCreateInputs } from "../spdm.js";
import { type CallResult, callRegs } from "./call.js";
import { flushBeforeHandoff, markHandoff } from "./handoff.js";
import { type ExchangeResult, spdmExchange } from "./spdm.js";

/** TDH.IDE.STREAM.KM operations (R8). */
export const KM_OP = Object.freeze({ SETUP: 0, REFRESH: 1, STOP: 2 });

/**
 * TDH.IDE.STREAM.CREATE's inputs (docs/spec/03-module.md 3.3): RCX = stream_info, RDX = SPDM id, R8 =
 * the metadata pages (`array`, an HPA_ARRAY_T), R9 = stream_ctrl, R10–R11 = RID associations, R12–R14
 * = address associations.
 */
export function streamCreateRegs(spdmId: U64, inputs: StreamCreateInputs, array: U64): Record<number, U64> {
  const n = u64FromNumber;
  return {
    [REG.RCX]: n(inputs.streamInfo),
    [REG.RDX]: spdmId,
    [REG.R8]: array,
    [REG.R9]: n(inputs.streamCtrl),
    [REG.R10]: n(inputs.rid[0]),
    [REG.R11]: n(inputs.rid[1]),
    [REG.R12]: n(inputs.addr[0]),
    [REG.R13]: n(inputs.addr[1]),
    [REG.R14]: n(inputs.addr[2]),
  };
}

/**
 * `tdh_ide_stream_create`: RCX = stream_info, RDX = SPDM id, R8 = the descriptor's pages as stream
 * metadata (HPA_ARRAY_T), R9 = stream_ctrl, R10–R14 = associations; the flush flag is set per
 * {@link markHandoff}. Out RCX = stream id, RDX = root-port IDE id.
 */
export function ideStreamCreate(
  k: HostKernel,
  spdmId: U64,
  inputs: StreamCreateInputs,
  array: TdxPageArray,
): CallResult {
  return kapiSpan(k, "tdh_ide_stream_create", () => {
    flushBeforeHandoff(k, array);
    markHandoff(k, array, null);
    const regs = callRegs("TDH.IDE.STREAM.CREATE", streamCreateRegs(spdmId, inputs, array.toHpaArray()));
    k.seamcall(regs);
    const status = regs.get(REG.RAX);
    if (k.policy.flushFlag === "on-success") markHandoff(k, array, status);
    return { status, regs };
  });
}

/**
 * `tdh_ide_stream_km`: RCX = SPDM id, RDX = stream id, R8 = SETUP, REFRESH or STOP, R9 = response page,
 * R10 = request page, through the stream's session's device.
 */
export function ideStreamKm(
  k: HostKernel,
  ch: SpdmChannel,
  spdmId: U64,
  streamId: U64,
  op: number,
): ExchangeResult {
  return kapiSpan(k, "tdh_ide_stream_km", () => {
    return spdmExchange(
      k,
      ch,
      "TDH.IDE.STREAM.KM",
      spdmId,
      { [REG.RCX]: spdmId, [REG.RDX]: streamId, [REG.R8]: u64FromNumber(op) },
      { rsp: REG.R9, req: REG.R10 },
    );
  });
}

/** `tdh_ide_stream_block`: RCX = SPDM id, RDX = stream id. */
export function ideStreamBlock(k: HostKernel, spdmId: U64, streamId: U64): CallResult {
  return kapiSpan(k, "tdh_ide_stream_block", () => {
    const regs = callRegs("TDH.IDE.STREAM.BLOCK", { [REG.RCX]: spdmId, [REG.RDX]: streamId });
    k.seamcall(regs);
    return { status: regs.get(REG.RAX), regs };
  });
}

/** `tdh_ide_stream_delete`: RCX = SPDM id, RDX = stream id, R8 = release input. RCX out = the released list. */
export function ideStreamDelete(k: HostKernel, spdmId: U64, streamId: U64, array: TdxPageArray): CallResult {
  return kapiSpan(k, "tdh_ide_stream_delete", () => {
    const regs = callRegs("TDH.IDE.STREAM.DELETE", {
      [REG.RCX]: spdmId,
      [REG.RDX]: streamId,
      [REG.R8]: array.toReleaseInput(),
    });
    k.seamcall(regs);
    return { status: regs.get(REG.RAX), regs };
  });
}
