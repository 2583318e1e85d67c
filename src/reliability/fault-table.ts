/**
 * The failing statuses each SEAMCALL leaf can return, in one table: the fault injector of
 * `faults.ts` forces each of them, in turn, on every call a clean run makes (03-module.md 3.1–3.4).
 *
 * Each row was read off the leaf's implementation in `src/module/leaves-*.ts` and checked against
 * 03-module.md 3.3; the comment over each row names where the statuses come from. Two statuses are
 * possible for every leaf and are added to every row by {@link failingStatuses}: TDX_OPERAND_INVALID
 * (RAX) (reserved RAX bits or an unsupported version, 3.1) and TDX_SYS_SHUTDOWN (the module consumed a
 * poisoned line, 3.5), the latter twice: replacing the call, and with its real side effects (the leaf
 * runs, its first private write consumes poison, what it claimed stays claimed, the module shuts down).
 * TDX_INTERRUPTED_RESUMABLE is listed, also with its effects (progress kept, the slot held), for leaves that can be interrupted, and the
 * SPDM statuses for the leaves that run an SPDM exchange: forcing them is a spurious interruption or a
 * spurious request, which a correct host must survive.
 */
import { LEAF, type LeafName, REG, STATUS, type StatusName } from "../common/status.js";
import type { U64 } from "../common/u64.js";

/** One failing status: its kind and the operand id in bits 31:0 (0 when it names no operand). */
export interface FailingStatus {
  readonly name: StatusName;
  readonly operand: number;
  /** Forced with the real failure's side effects (emulator `ForcedStatus.effects`). */
  readonly effects?: boolean;
}

const s = (name: StatusName, operand = 0): FailingStatus => Object.freeze({ name, operand });
const withEffects = (name: StatusName): FailingStatus => Object.freeze({ name, operand: 0, effects: true });

/** Statuses of the private operand page checks (03-module.md 3.2), on the register that named the pages. */
const privatePageChecks = (reg: number): FailingStatus[] => [
  s("TDX_OPERAND_INVALID", reg),
  s("TDX_OPERAND_ADDR_RANGE_ERROR", reg),
  s("TDX_OPERAND_BUSY", reg),
  s("TDX_PAGE_METADATA_INCORRECT", reg),
];

/** Statuses of a leaf that keeps its progress in the extension slot (03-module.md 3.4). */
const extensionResumable: FailingStatus[] = [
  s("TDX_INTERRUPTED_RESUMABLE"),
  withEffects("TDX_INTERRUPTED_RESUMABLE"),
  s("TDX_INVALID_RESUMPTION"),
  s("TDX_OPERAND_BUSY"),
];

/** Statuses of an SPDM exchange (spdm-common.ts `runExchange`, `messagePages`). */
const exchange: FailingStatus[] = [
  s("TDX_SPDM_REQUEST"),
  s("TDX_OPERAND_INVALID", REG.R8),
  s("TDX_OPERAND_INVALID", REG.R9),
];

/** Leaf-specific failing statuses (the two universal ones are added by {@link failingStatuses}). */
export const LEAF_FAILURES: Readonly<Partial<Record<LeafName, readonly FailingStatus[]>>> = Object.freeze({
  // leaves-core.ts: an unknown field id.
  "TDH.SYS.RD": [s("TDX_METADATA_FIELD_NOT_READABLE", REG.RDX)],
  // leaves-core.ts: reserved bits or no private KeyID, outside every TDMR, page not PT_NDA.
  "TDH.PHYMEM.PAGE.WBINVD": [
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OPERAND_ADDR_RANGE_ERROR", REG.RCX),
    s("TDX_PAGE_METADATA_INCORRECT", REG.RCX),
  ],
  // leaves-core.ts: reserved bits or a KeyID, outside every TDMR.
  "TDH.PHYMEM.PAGE.RDMD": [s("TDX_OPERAND_INVALID", REG.RCX), s("TDX_OPERAND_ADDR_RANGE_ERROR", REG.RCX)],
  // leaves-ext.ts: operand rules 1–4, the extension slot busy, the private page checks per entry, an
  // interruption between entries, and the (success-class) pool-full status.
  "TDH.EXT.MEM.ADD": [
    ...privatePageChecks(REG.RCX),
    s("TDX_OPERAND_BUSY"),
    s("TDX_INTERRUPTED_RESUMABLE"),
    withEffects("TDX_INTERRUPTED_RESUMABLE"),
    s("TDX_EXT_MEMORY_POOL_FULL"),
  ],
  // leaves-ext.ts: pool not full or a second INIT; resumable in the extension slot.
  "TDH.EXT.INIT": [s("TDX_OP_STATE_INCORRECT"), ...extensionResumable],
  // leaves-iommu.ts: unknown or incapable unit (RCX), unit already set up (RCX), IOMMU_MT rules and the
  // private page checks (RDX); resumable with the original inputs (its own resumption key).
  "TDH.IOMMU.SETUP": [
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OP_STATE_INCORRECT", REG.RCX),
    ...privatePageChecks(REG.RDX),
    ...extensionResumable,
  ],
  // leaves-iommu.ts: unknown id (RCX), a different root (RDX); resumable with the original inputs.
  "TDH.IOMMU.CLEAR": [
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OPERAND_INVALID", REG.RDX),
    ...extensionResumable,
  ],
  // leaves-spdm.ts: extension slot busy, bad function id or no such device (RCX), a session exists
  // (RCX), HPA_ARRAY_T rules and the private page checks (RDX).
  "TDH.SPDM.CREATE": [
    s("TDX_OPERAND_BUSY"),
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OP_STATE_INCORRECT", REG.RCX),
    ...privatePageChecks(REG.RDX),
  ],
  // leaves-spdm.ts: unknown session (RCX), wrong state (RCX), message pages, device-info buffer (R10).
  "TDH.SPDM.CONNECT": [
    ...extensionResumable,
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OP_STATE_INCORRECT", REG.RCX),
    ...exchange,
    s("TDX_OPERAND_INVALID", REG.R10),
  ],
  // leaves-spdm.ts: as CONNECT, plus a key refresh due; no buffer.
  "TDH.SPDM.DISCONNECT": [
    ...extensionResumable,
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OP_STATE_INCORRECT", REG.RCX),
    s("TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH"),
    ...exchange,
  ],
  // leaves-spdm.ts: as DISCONNECT, plus a bad operation (RDX) and the RECOLLECT buffer (R10).
  "TDH.SPDM.MNG": [
    ...extensionResumable,
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OPERAND_INVALID", REG.RDX),
    s("TDX_OP_STATE_INCORRECT", REG.RCX),
    s("TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH"),
    ...exchange,
    s("TDX_OPERAND_INVALID", REG.R10),
  ],
  // leaves-spdm.ts + spdm-common.ts `releaseObject`: slot busy, unknown session, wrong state or a
  // stream attached, a bad release input (RDX).
  "TDH.SPDM.DELETE": [
    s("TDX_OPERAND_BUSY"),
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OP_STATE_INCORRECT", REG.RCX),
    s("TDX_OPERAND_INVALID", REG.RDX),
  ],
  // leaves-ide.ts: unknown session or not connected (RCX), bad selector or slot in use (RDX),
  // HPA_ARRAY_T rules and the private page checks (R8).
  "TDH.IDE.STREAM.CREATE": [
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OP_STATE_INCORRECT", REG.RCX),
    s("TDX_OPERAND_INVALID", REG.RDX),
    s("TDX_OPERAND_BUSY", REG.RDX),
    ...privatePageChecks(REG.R8),
  ],
  // leaves-ide.ts: an exchange in the extension slot; unknown stream (RCX), bad operation (RDX), wrong
  // state (RCX), a key refresh due.
  "TDH.IDE.STREAM.KM": [
    ...extensionResumable,
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OPERAND_INVALID", REG.RDX),
    s("TDX_OP_STATE_INCORRECT", REG.RCX),
    s("TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH"),
    ...exchange,
  ],
  // leaves-ide.ts: unknown stream, wrong state.
  "TDH.IDE.STREAM.BLOCK": [s("TDX_OPERAND_INVALID", REG.RCX), s("TDX_OP_STATE_INCORRECT", REG.RCX)],
  // leaves-ide.ts + `releaseObject`: unknown stream, not blocked, a bad release input (RDX).
  "TDH.IDE.STREAM.DELETE": [
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OP_STATE_INCORRECT", REG.RCX),
    s("TDX_OPERAND_INVALID", REG.RDX),
  ],
});

/** Statuses every leaf can return (03-module.md 3.1 and 3.5). */
export const UNIVERSAL_FAILURES: readonly FailingStatus[] = Object.freeze([
  s("TDX_OPERAND_INVALID", REG.RAX),
  s("TDX_SYS_SHUTDOWN"),
  withEffects("TDX_SYS_SHUTDOWN"),
]);

const BY_NUMBER = new Map<number, readonly FailingStatus[]>(
  (Object.keys(LEAF) as LeafName[]).map((n) => [
    LEAF[n],
    [...(LEAF_FAILURES[n] ?? []), ...UNIVERSAL_FAILURES],
  ]),
);

/**
 * Every failing status leaf number `leaf` can return: its row plus the universal ones. An unknown leaf
 * can only return TDX_OPERAND_INVALID (RAX).
 * @example failingStatuses(LEAF["TDH.SYS.RD"]).length // 4
 */
export function failingStatuses(leaf: number): readonly FailingStatus[] {
  return BY_NUMBER.get(leaf) ?? [UNIVERSAL_FAILURES[0]!];
}

/** The status value of a {@link FailingStatus}. */
export function statusValue(f: FailingStatus): U64 {
  return { lo: f.operand >>> 0, hi: STATUS[f.name].hi };
}
