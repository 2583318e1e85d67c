/**
 * The failing statuses each SEAMCALL leaf can return, in one table: the fault injector of
 * `faults.ts` forces each of them, in turn, on every call a clean run makes (docs/spec/03-module.md 3.1–3.4).
 *
 * Each row was read off the leaf's implementation in `src/module/leaves-*.ts` and checked against
 * docs/spec/03-module.md 3.3; the comment over each row names where the statuses come from. Two statuses are
 * possible for every leaf and are added to every row by {@link failingStatuses}: TDX_OPERAND_INVALID
 * (RAX) (reserved RAX bits or an unsupported version, 3.1) and TDX_SYS_SHUTDOWN (the module consumed a
 * poisoned line, 3.5), the latter twice: replacing the call, and with its real side effects (the leaf
 * runs, its first private write consumes poison, what it claimed stays claimed, the module shuts down).
 * TDX_INTERRUPTED_RESUMABLE is listed, also with its effects (progress kept, the slot held), for leaves that can be interrupted, and the
 * SPDM statuses for the leaves that run an SPDM exchange: forcing them is a spurious interruption or a
 * spurious request, which a correct host must survive.
 */
import { LEAF, type LeafName, REG, RESOURCE_OPERAND, STATUS, type StatusName } from "../common/status.js";
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
  s("TDX_OPERAND_BUSY", RESOURCE_OPERAND.SYS),
];

/**
 * Statuses of an SPDM exchange (spdm-common.ts `runExchange`, `messagePages`) on the leaf's response and
 * request registers (the register table of 03-module.md 3.3).
 */
const exchange = (rsp: number, req: number): FailingStatus[] => [
  s("TDX_SPDM_REQUEST"),
  s("TDX_OPERAND_INVALID", rsp),
  s("TDX_OPERAND_INVALID", req),
];

/** Leaf-specific failing statuses (the two universal ones are added by {@link failingStatuses}). */
export const LEAF_FAILURES: Readonly<Partial<Record<LeafName, readonly FailingStatus[]>>> = Object.freeze({
  // metadata.ts: an unknown field id; a feature field before SYS.CONFIG.
  "TDH.SYS.RD": [s("TDX_METADATA_FIELD_ID_INCORRECT"), s("TDX_METADATA_FIELD_NOT_READABLE")],
  // metadata.ts: configured already; the global KeyID (R8); a feature the module lacks (R9).
  "TDH.SYS.CONFIG": [
    s("TDX_OP_STATE_INCORRECT"),
    s("TDX_OPERAND_INVALID", REG.R8),
    s("TDX_OPERAND_INVALID", REG.R9),
  ],
  // leaves-core.ts: reserved bits or no private KeyID, outside every TDMR, page not PT_NDA.
  "TDH.PHYMEM.PAGE.WBINVD": [
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OPERAND_ADDR_RANGE_ERROR", REG.RCX),
    s("TDX_PAGE_METADATA_INCORRECT", REG.RCX),
  ],
  // leaves-core.ts: reserved bits or a KeyID, outside every TDMR.
  "TDH.PHYMEM.PAGE.RDMD": [s("TDX_OPERAND_INVALID", REG.RCX), s("TDX_OPERAND_ADDR_RANGE_ERROR", REG.RCX)],
  // leaves-quote.ts: the TDR page checks (RCX), a bad HKID (RDX).
  "TDH.MNG.CREATE": [...privatePageChecks(REG.RCX), s("TDX_OPERAND_INVALID", REG.RDX)],
  // leaves-quote.ts: reserved bits, outside every TDMR, not a TDR, a quote in flight.
  "TDH.PHYMEM.PAGE.RECLAIM": [
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OPERAND_ADDR_RANGE_ERROR", REG.RCX),
    s("TDX_PAGE_METADATA_INCORRECT", REG.RCX),
    s("TDX_OPERAND_BUSY", REG.RCX),
  ],
  // leaves-quote.ts: interruption (with or without progress), a changed re-issue, and the checks of
  // ledger `quote-checks` on every input register.
  "TDH.QUOTE.GET": [
    s("TDX_INTERRUPTED_RESUMABLE"),
    s("TDX_INTERRUPTED_RESTARTABLE"),
    s("TDX_INVALID_RESUMPTION"),
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OPERAND_ADDR_RANGE_ERROR", REG.RCX),
    s("TDX_PAGE_METADATA_INCORRECT", REG.RCX),
    s("TDX_OPERAND_INVALID", REG.RDX),
    s("TDX_OPERAND_INVALID", REG.R8),
    s("TDX_OPERAND_INVALID", REG.R9),
    s("TDX_OPERAND_INVALID", REG.R10),
    s("TDX_OPERAND_INVALID", REG.R11),
  ],
  // leaves-ext.ts: operand rules 1–4, the extension slot busy, the private page checks per entry, an
  // interruption between entries, and the (success-class) pool-full status.
  "TDH.EXT.MEM.ADD": [
    ...privatePageChecks(REG.RCX),
    s("TDX_OPERAND_BUSY", RESOURCE_OPERAND.SYS),
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
    s("TDX_OPERAND_BUSY", RESOURCE_OPERAND.SYS),
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OP_STATE_INCORRECT", REG.RCX),
    ...privatePageChecks(REG.RDX),
  ],
  // leaves-spdm.ts: unknown session (RCX), wrong state (RCX), spdm_conf (RDX), message pages (R8
  // response, R9 request), device-info buffer (R10).
  "TDH.SPDM.CONNECT": [
    ...extensionResumable,
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OP_STATE_INCORRECT", REG.RCX),
    s("TDX_OPERAND_INVALID", REG.RDX),
    ...exchange(REG.R8, REG.R9),
    s("TDX_OPERAND_INVALID", REG.R10),
  ],
  // leaves-spdm.ts: as CONNECT, plus a key refresh due; RDX response, R8 request; no buffer.
  "TDH.SPDM.DISCONNECT": [
    ...extensionResumable,
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OP_STATE_INCORRECT", REG.RCX),
    s("TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH"),
    ...exchange(REG.RDX, REG.R8),
  ],
  // leaves-spdm.ts: as DISCONNECT, plus a bad or not granted operation (RDX), the param page (R8),
  // R9 response, R10 request and the RECOLLECT buffer (R11).
  "TDH.SPDM.MNG": [
    ...extensionResumable,
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OPERAND_INVALID", REG.RDX),
    s("TDX_OPERAND_INVALID", REG.R8),
    s("TDX_OP_STATE_INCORRECT", REG.RCX),
    s("TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH"),
    ...exchange(REG.R9, REG.R10),
    s("TDX_OPERAND_INVALID", REG.R11),
  ],
  // leaves-spdm.ts + spdm-common.ts `releaseObject`: slot busy, unknown session, wrong state or a
  // stream attached, a bad release input (RDX).
  "TDH.SPDM.DELETE": [
    s("TDX_OPERAND_BUSY", RESOURCE_OPERAND.SYS),
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OP_STATE_INCORRECT", REG.RCX),
    s("TDX_OPERAND_INVALID", REG.RDX),
  ],
  // leaves-ide.ts: stream_info or no free register block (RCX), unknown or unconnected session (RDX),
  // HPA_ARRAY_T rules and the private page checks (R8), stream_ctrl (R9), associations (R10–R14).
  "TDH.IDE.STREAM.CREATE": [
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OP_STATE_INCORRECT", REG.RCX),
    s("TDX_OPERAND_INVALID", REG.RDX),
    s("TDX_OP_STATE_INCORRECT", REG.RDX),
    ...privatePageChecks(REG.R8),
    s("TDX_OPERAND_INVALID", REG.R9),
    s("TDX_OPERAND_INVALID", REG.R10),
    s("TDX_OPERAND_INVALID", REG.R11),
    s("TDX_OPERAND_INVALID", REG.R12),
    s("TDX_OPERAND_INVALID", REG.R13),
    s("TDX_OPERAND_INVALID", REG.R14),
  ],
  // leaves-ide.ts: an exchange in the extension slot; unknown session (RCX), unknown stream (RDX), bad
  // operation (R8), wrong state (RDX), a key refresh due; R9 response, R10 request.
  "TDH.IDE.STREAM.KM": [
    ...extensionResumable,
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OPERAND_INVALID", REG.RDX),
    s("TDX_OPERAND_INVALID", REG.R8),
    s("TDX_OP_STATE_INCORRECT", REG.RDX),
    s("TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH"),
    ...exchange(REG.R9, REG.R10),
  ],
  // leaves-ide.ts: unknown session (RCX), unknown stream (RDX), blocked already (RDX).
  "TDH.IDE.STREAM.BLOCK": [
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OPERAND_INVALID", REG.RDX),
    s("TDX_OP_STATE_INCORRECT", REG.RDX),
  ],
  // leaves-ide.ts + `releaseObject`: unknown session (RCX) or stream (RDX), not blocked (RDX), a bad
  // release input (R8).
  "TDH.IDE.STREAM.DELETE": [
    s("TDX_OPERAND_INVALID", REG.RCX),
    s("TDX_OPERAND_INVALID", REG.RDX),
    s("TDX_OP_STATE_INCORRECT", REG.RDX),
    s("TDX_OPERAND_INVALID", REG.R8),
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
