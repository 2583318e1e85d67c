/**
 * TDX completion statuses and SEAMCALL leaf numbers (03-module.md 3.1).
 *
 * A status is a u64 returned in RAX: bit 63 error, 62 non-recoverable, 61 fatal, 60 host-recoverability
 * hint, 47:40 class, 39:32 detail, 31:0 operand id (or per-error information). Two statuses are the same
 * kind when bits 63:32 match; bits 31:0 carry the operand. Values here are the high halves (bits 63:32).
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
  TDX_PAGE_METADATA_INCORRECT: kind("TDX_PAGE_METADATA_INCORRECT", 0xc000_0300),
  TDX_PAGE_NOT_FREE: kind("TDX_PAGE_NOT_FREE", 0xc000_0303),
  TDX_SYS_NOT_READY: kind("TDX_SYS_NOT_READY", 0xc000_0505),
  TDX_SYS_SHUTDOWN: kind("TDX_SYS_SHUTDOWN", 0xc000_0506),
  TDX_OP_STATE_INCORRECT: kind("TDX_OP_STATE_INCORRECT", 0xc000_0608),
  TDX_METADATA_FIELD_ID_INCORRECT: kind("TDX_METADATA_FIELD_ID_INCORRECT", 0xc000_0c00),
  TDX_METADATA_FIELD_NOT_READABLE: kind("TDX_METADATA_FIELD_NOT_READABLE", 0xc000_0c02),
  TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH: kind("TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH", 0xc000_0f45),
  TDX_SPDM_REQUEST: kind("TDX_SPDM_REQUEST", 0xc000_0f57),
  /**
   * Model-defined (ledger `ext-pool-full-value`): the real TDX_EXT_MEMORY_POOL_FULL is success-class but
   * its number is not public. Class 0xFF is unused by every public status, so it cannot be mistaken.
   */
  TDX_EXT_MEMORY_POOL_FULL: kind("TDX_EXT_MEMORY_POOL_FULL", 0x0000_ff01, true),
});

/** Name of a status kind. */
export type StatusName = keyof typeof STATUS;

const BY_HI = new Map<number, StatusKind>(Object.values(STATUS).map((k) => [k.hi, k]));

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
  readonly operandId: number;
  readonly modelDefined: boolean;
}

/** Decodes a status value per 03-module.md 3.1. Never throws for any u64 (throws a typed error for non-halves). */
export function decodeStatus(lo: number, hi: number): StatusInfo {
  checkHalves("status", lo, hi);
  const k = BY_HI.get(hi >>> 0);
  return {
    raw: u64ToHex(lo, hi),
    name: k?.name ?? null,
    error: getBits(lo, hi, 63, 1) === 1,
    nonRecoverable: getBits(lo, hi, 62, 1) === 1,
    fatal: getBits(lo, hi, 61, 1) === 1,
    hostRecoverabilityHint: getBits(lo, hi, 60, 1) === 1,
    class: getBits(lo, hi, 40, 8),
    detail: getBits(lo, hi, 32, 8),
    operandId: lo >>> 0,
    modelDefined: k?.modelDefined ?? false,
  };
}

/** True when the status is of kind `k` (bits 63:32 compared, as the spec says). */
export function isStatus(s: U64, k: StatusKind): boolean {
  return s.hi >>> 0 === k.hi;
}

/** True when bit 63 (error) is clear. */
export function isSuccessClass(s: U64): boolean {
  return s.hi >>> 31 === 0;
}

/** `NAME(operand)` or the raw hex, for logs. */
export function statusText(s: U64): string {
  const k = BY_HI.get(s.hi >>> 0);
  if (k === undefined) return u64ToHex(s.lo, s.hi);
  if (s.lo === 0) return k.name;
  const r = regName(s.lo);
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
});

/** A leaf's name. */
export type LeafName = keyof typeof LEAF;

const LEAF_BY_NUMBER = new Map<number, LeafName>(Object.entries(LEAF).map(([n, v]) => [v, n as LeafName]));

/** Name of leaf number `n`, or null. */
export function leafName(n: number): LeafName | null {
  return LEAF_BY_NUMBER.get(n) ?? null;
}
