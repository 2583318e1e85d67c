/**
 * TDX completion statuses and SEAMCALL leaf numbers (docs/spec/03-module.md 3.1).
 *
 * A status is a u64 returned in RAX: bit 63 error, 62 non-recoverable, 61 fatal, 60 host-recoverability
 * hint, 47:40 class, 39:32 detail, 31:0 the operand id on an error, leaf-specific information on a
 * success-class status. Two statuses are the same kind when bits 63:32 match. Values here are the high
 * halves (bits 63:32).
 */
import { checkHalves, getBits, type U64, u64ToHex } from "./u64.js";

/** A known status kind: its name and the high half (bits 63:32) of its value. */
export interface StatusKind {
  readonly name: string;
  readonly hi: number;
  /** True for a value this project made up because the real one is not public (03-module.md 3.3). */
  readonly modelDefined: boolean;
}

const kind = (name: string, hi: number, modelDefined = false): StatusKind =>
  Object.freeze({ name, hi, modelDefined });

/** Every status the emulator returns, by name. */
export const STATUS = Object.freeze({
  TDX_SUCCESS: kind("TDX_SUCCESS", 0x0000_0000),
  TDX_INTERRUPTED_RESUMABLE: kind("TDX_INTERRUPTED_RESUMABLE", 0x8000_0003),
  TDX_INVALID_RESUMPTION: kind("TDX_INVALID_RESUMPTION", 0xc000_0006),
  TDX_OPERAND_INVALID: kind("TDX_OPERAND_INVALID", 0xc000_0100),
  TDX_OPERAND_ADDR_RANGE_ERROR: kind("TDX_OPERAND_ADDR_RANGE_ERROR", 0xc000_0101),
  TDX_OPERAND_BUSY: kind("TDX_OPERAND_BUSY", 0x8000_0200),
  TDX_SYS_BUSY: kind("TDX_SYS_BUSY", 0x8000_0202),
  TDX_OPERAND_BUSY_HOST_PRIORITY: kind("TDX_OPERAND_BUSY_HOST_PRIORITY", 0x8000_0204),
  TDX_PAGE_METADATA_INCORRECT: kind("TDX_PAGE_METADATA_INCORRECT", 0xc000_0300),
  TDX_PAGE_NOT_FREE: kind("TDX_PAGE_NOT_FREE", 0xc000_0303),
  TDX_SYS_NOT_READY: kind("TDX_SYS_NOT_READY", 0xc000_0505),
  TDX_SYS_SHUTDOWN: kind("TDX_SYS_SHUTDOWN", 0xc000_0506),
  TDX_OP_STATE_INCORRECT: kind("TDX_OP_STATE_INCORRECT", 0xc000_0608),
  TDX_METADATA_FIELD_ID_INCORRECT: kind("TDX_METADATA_FIELD_ID_INCORRECT", 0xc000_0c00),
  TDX_METADATA_FIELD_NOT_READABLE: kind("TDX_METADATA_FIELD_NOT_READABLE", 0xc000_0c02),
  TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH: kind("TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH", 0xc000_0f45),
  TDX_SPDM_REQUEST: kind("TDX_SPDM_REQUEST", 0xc000_0f57),
  /** Interrupted before the leaf kept any progress: re-issue from the start (docs/spec/03-module.md 3.4). */
  TDX_INTERRUPTED_RESTARTABLE: kind("TDX_INTERRUPTED_RESTARTABLE", 0x8000_0004),
  /** The kernel repeats every SEAMCALL a bounded number of times on this one (`sc_retry`). */
  TDX_RND_NO_ENTROPY: kind("TDX_RND_NO_ENTROPY", 0x8000_0203),
  /**
   * Model-defined (ledger `ext-pool-full-value`): the real TDX_EXT_MEMORY_POOL_FULL is success-class but
   * its number is not public. Class 0xFF is unused by every public status, so it cannot be mistaken.
   */
  TDX_EXT_MEMORY_POOL_FULL: kind("TDX_EXT_MEMORY_POOL_FULL", 0x0000_ff01, true),
});

/** Name of a status kind. */
export type StatusName = keyof typeof STATUS;

/**
 * Statuses the kernel's headers name (Linux `tdx_errno.h`, docs/spec/03-module.md 3.1) that the
 * emulator never returns (they belong to the TD life cycle): known so that `decode status` names them.
 */
export const KERNEL_ONLY_STATUS = Object.freeze({
  TDX_NON_RECOVERABLE_VCPU: kind("TDX_NON_RECOVERABLE_VCPU", 0x4000_0001),
  TDX_NON_RECOVERABLE_TD: kind("TDX_NON_RECOVERABLE_TD", 0x4000_0002),
  TDX_NON_RECOVERABLE_TD_NON_ACCESSIBLE: kind("TDX_NON_RECOVERABLE_TD_NON_ACCESSIBLE", 0x6000_0005),
  TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE: kind("TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE", 0x6000_0007),
  TDX_PREVIOUS_TLB_EPOCH_BUSY: kind("TDX_PREVIOUS_TLB_EPOCH_BUSY", 0x8000_0201),
  TDX_VCPU_NOT_ASSOCIATED: kind("TDX_VCPU_NOT_ASSOCIATED", 0x8000_0702),
  TDX_KEY_GENERATION_FAILED: kind("TDX_KEY_GENERATION_FAILED", 0x8000_0800),
  TDX_KEY_STATE_INCORRECT: kind("TDX_KEY_STATE_INCORRECT", 0xc000_0811),
  TDX_KEY_CONFIGURED: kind("TDX_KEY_CONFIGURED", 0x0000_0815),
  TDX_NO_HKID_READY_TO_WBCACHE: kind("TDX_NO_HKID_READY_TO_WBCACHE", 0x0000_0821),
  TDX_FLUSHVP_NOT_DONE: kind("TDX_FLUSHVP_NOT_DONE", 0x8000_0824),
  TDX_EPT_WALK_FAILED: kind("TDX_EPT_WALK_FAILED", 0xc000_0b00),
  TDX_EPT_ENTRY_STATE_INCORRECT: kind("TDX_EPT_ENTRY_STATE_INCORRECT", 0xc000_0b0d),
});

/**
 * Linux's own software errors (class 0xFF with bit 63, `TDX_SW_ERROR`; never from the module), by their
 * full value: bits 31:0 are part of the name, not an operand id (docs/spec/03-module.md 3.1).
 */
export const KERNEL_SW_ERRORS: readonly { readonly name: string; readonly lo: number }[] = Object.freeze([
  { name: "TDX_SEAMCALL_VMFAILINVALID", lo: 0xffff_0000 },
  { name: "TDX_SEAMCALL_GP", lo: 13 },
  { name: "TDX_SEAMCALL_UD", lo: 6 },
]);

/** High half of `TDX_SW_ERROR`: bit 63 and class 0xFF. */
const SW_ERROR_HI = 0x8000_ff00;

const BY_HI = new Map<number, StatusKind>(
  [...Object.values(STATUS), ...Object.values(KERNEL_ONLY_STATUS)].map((k) => [k.hi, k]),
);

/**
 * Resource operand ids (bits 31:0 of an error status naming an internal resource rather than a
 * register): the ones Linux and this model use (TDX Module 1.5 operand-id list).
 */
export const RESOURCE_OPERAND = Object.freeze({
  TDR: 0x80,
  SEPT: 0x92,
  TD_EPOCH: 0xa9,
  /** The module's global (system) resource; the emulator's extension queue (ledger `ext-queue-resource`). */
  SYS: 0xb8,
});

/** Name of an operand id: a register (`RCX`) or a resource (`SYS`), or null. */
export function operandName(id: number): string | null {
  const r = regName(id);
  if (r !== null) return r;
  for (const [name, v] of Object.entries(RESOURCE_OPERAND)) if (v === id) return name;
  return null;
}

/** Register ids used as operand ids in statuses (03-module.md 3.1). */
export const REG = Object.freeze({
  RAX: 0,
  RCX: 1,
  RDX: 2,
  RBX: 3,
  RSI: 6,
  RDI: 7,
  R8: 8,
  R9: 9,
  R10: 10,
  R11: 11,
  R12: 12,
  R13: 13,
  R14: 14,
  R15: 15,
});

/** Name of a register id, or `null`. */
export function regName(id: number): string | null {
  for (const [name, v] of Object.entries(REG)) if (v === id) return name;
  return null;
}

/** A status value for kind `k` and operand id `operand` (0..2^32−1). */
export function status(k: StatusKind, operand = 0): U64 {
  return { lo: operand >>> 0, hi: k.hi };
}

/** The decoded fields of a status value. */
export interface StatusInfo {
  readonly raw: string;
  /** The known kind's name, or null when bits 63:32 match none. */
  readonly name: string | null;
  readonly error: boolean;
  readonly nonRecoverable: boolean;
  readonly fatal: boolean;
  readonly hostRecoverabilityHint: boolean;
  readonly class: number;
  readonly detail: number;
  /**
   * Bits 31:0 as an operand id: only on an error status from the module (bit 63 set, not a kernel
   * software error); null otherwise, since a success-class status carries leaf-specific information there.
   */
  readonly operandId: number | null;
  /** Bits 31:0 whatever they mean (operand id, leaf-specific information, or part of a software error). */
  readonly info: number;
  readonly modelDefined: boolean;
}

/** Decodes a status value per 03-module.md 3.1. Never throws for any u64 (throws a typed error for non-halves). */
export function decodeStatus(lo: number, hi: number): StatusInfo {
  checkHalves("status", lo, hi);
  const k = BY_HI.get(hi >>> 0);
  const sw = hi >>> 0 === SW_ERROR_HI;
  const error = getBits(lo, hi, 63, 1) === 1;
  return {
    raw: u64ToHex(lo, hi),
    name: sw ? swErrorName(lo) : (k?.name ?? null),
    error,
    nonRecoverable: getBits(lo, hi, 62, 1) === 1,
    fatal: getBits(lo, hi, 61, 1) === 1,
    hostRecoverabilityHint: getBits(lo, hi, 60, 1) === 1,
    class: getBits(lo, hi, 40, 8),
    detail: getBits(lo, hi, 32, 8),
    operandId: error && !sw ? lo >>> 0 : null,
    info: lo >>> 0,
    modelDefined: k?.modelDefined ?? false,
  };
}

function swErrorName(lo: number): string {
  return KERNEL_SW_ERRORS.find((e) => e.lo === lo >>> 0)?.name ?? "TDX_SW_ERROR";
}

/** True when the status is of kind `k` (bits 63:32 compared, as the spec says). */
export function isStatus(s: U64, k: StatusKind): boolean {
  return s.hi >>> 0 === k.hi;
}

/** True when bit 63 (error) is clear. */
export function isSuccessClass(s: U64): boolean {
  return s.hi >>> 31 === 0;
}

/**
 * `NAME(operand)` for an error, `NAME(info 0x…)` for a success-class status with bits 31:0 set, or the
 * raw hex, for logs.
 */
export function statusText(s: U64): string {
  const k = BY_HI.get(s.hi >>> 0);
  if (k === undefined) return u64ToHex(s.lo, s.hi);
  if (s.lo === 0) return k.name;
  if (s.hi >>> 31 === 0) return `${k.name}(info 0x${(s.lo >>> 0).toString(16)})`;
  const r = operandName(s.lo >>> 0);
  return `${k.name}(${r ?? `0x${(s.lo >>> 0).toString(16)}`})`;
}

/** SEAMCALL leaf numbers (03-module.md 3.1). */
export const LEAF = Object.freeze({
  "TDH.PHYMEM.PAGE.RDMD": 24,
  "TDH.PHYMEM.PAGE.RECLAIM": 28,
  "TDH.SYS.RD": 34,
  "TDH.PHYMEM.PAGE.WBINVD": 41,
  "TDH.SYS.CONFIG": 45,
  "TDH.EXT.INIT": 60,
  "TDH.EXT.MEM.ADD": 61,
  "TDH.QUOTE.GET": 98,
  "TDH.IOMMU.SETUP": 128,
  "TDH.IOMMU.CLEAR": 129,
  "TDH.SPDM.CREATE": 130,
  "TDH.SPDM.DELETE": 131,
  "TDH.IDE.STREAM.CREATE": 132,
  "TDH.IDE.STREAM.BLOCK": 133,
  "TDH.IDE.STREAM.DELETE": 134,
  "TDH.IDE.STREAM.KM": 135,
  "TDH.SPDM.CONNECT": 142,
  "TDH.SPDM.DISCONNECT": 143,
  "TDH.SPDM.MNG": 144,
  /** Minimal, for TDH.QUOTE.GET's TD (ledger `td-minimal`); last so existing fuzz programs keep their leaves. */
  "TDH.MNG.CREATE": 9,
});

/** A leaf's name. */
export type LeafName = keyof typeof LEAF;

const LEAF_BY_NUMBER = new Map<number, LeafName>(Object.entries(LEAF).map(([n, v]) => [v, n as LeafName]));

/** Name of leaf number `n`, or null. */
export function leafName(n: number): LeafName | null {
  return LEAF_BY_NUMBER.get(n) ?? null;
}
