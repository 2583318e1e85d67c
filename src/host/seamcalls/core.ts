/**
 * Host wrappers of the leaves that take no page list (docs/spec/02-kapi.md 2.3, 03-module.md 3.3): cache
 * write-back of one page, PAMT read, metadata read and module configuration.
 */
import { REG } from "../../common/status.js";
import { hpaToU64, parseU64, pfnToHpa, type U64 } from "../../common/u64.js";
import { METADATA_FIELD_IDS, type MetadataFieldName, RFC_V2_FIELD_IDS } from "../../hw/platform.js";
import { kapiSpan } from "../kapi-trace.js";
import { type HostKernel, hpaWithKeyId } from "../kernel.js";
import { type CallResult, callRegs, ok, tdxCall } from "./call.js";

/** No input registers: a call whose registers are set on the register file. */
const NO_INPUTS: Readonly<Record<number, U64>> = Object.freeze({});

/**
 * TDH.PHYMEM.PAGE.WBINVD of page `pfn` under the module's global KeyID: writes back and drops that
 * page's private cache lines. Returns the status.
 */
export function pageWbinvd(k: HostKernel, pfn: number): U64 {
  return kapiSpan(k, "tdh_phymem_page_wbinvd_hkid", () => {
    const hpa = hpaWithKeyId(k, pfnToHpa(pfn), k.sysinfo.globalKeyId);
    // RCX set on the register file, not through an input literal: V8 defines a computed integer key of
    // an object literal with a runtime call (about 175 ns a key, measured), and a destroy issues one
    // PAGE.WBINVD per page.
    const regs = callRegs("TDH.PHYMEM.PAGE.WBINVD", NO_INPUTS).set(REG.RCX, hpaToU64(hpa));
    k.seamcall(regs);
    return regs.get(REG.RAX);
  });
}

/** TDH.PHYMEM.PAGE.RDMD of page `pfn`: status, page type and owner (for tools and tests). */
export function pageRdmd(k: HostKernel, pfn: number): { status: U64; type: number; owner: number } {
  return kapiSpan(k, "tdh_phymem_page_rdmd", () => {
    const r = tdxCall(k, "TDH.PHYMEM.PAGE.RDMD", {
      [REG.RCX]: hpaToU64(pfnToHpa(pfn)),
    });
    const good = ok(r.status);
    return { status: r.status, type: good ? r.regs.lo(REG.RCX) : -1, owner: good ? r.regs.lo(REG.RDX) : -1 };
  });
}

/**
 * TDH.SYS.RD of a metadata field: the status and, on success, the value. The pool fields are read at
 * the ids of the host's vintage (policy `metadataIds`).
 */
export function sysRd(k: HostKernel, field: MetadataFieldName): { status: U64; value: U64 } {
  return kapiSpan(k, "tdh_sys_rd", () => {
    const id =
      k.policy.metadataIds === "rfc-v2" && field in RFC_V2_FIELD_IDS
        ? RFC_V2_FIELD_IDS[field as keyof typeof RFC_V2_FIELD_IDS]
        : METADATA_FIELD_IDS[field];
    const regs = callRegs("TDH.SYS.RD", NO_INPUTS).set(REG.RDX, parseU64(id));
    k.seamcall(regs);
    const status = regs.get(REG.RAX);
    return { status, value: ok(status) ? regs.get(REG.R8) : { lo: 0, hi: 0 } };
  });
}

/**
 * `tdh_sys_config` version 1 (03-module.md 3.3): R8 = the module's global KeyID, R9 = the features to
 * enable (TDX_FEATURES0 bits), R11 = wall-clock seconds (the module ignores it; 0 here, so runs replay).
 */
export function sysConfig(k: HostKernel, features: U64): CallResult {
  return kapiSpan(k, "tdh_sys_config", () => {
    return tdxCall(
      k,
      "TDH.SYS.CONFIG",
      { [REG.R8]: { lo: k.sysinfo.globalKeyId, hi: 0 }, [REG.R9]: features, [REG.R11]: { lo: 0, hi: 0 } },
      1,
    );
  });
}
