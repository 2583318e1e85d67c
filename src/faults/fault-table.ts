/**
 * The failing statuses each SEAMCALL leaf can return, in one table: the fault injector of
 * `faults.ts` forces each of them, in turn, on every call a clean run makes (docs/spec/03-module.md 3.1–3.4).
 *
 * The rows are the `fails` lists of the leaf descriptors (`src/module/leaves-*.ts`, beside each leaf's
 * implementation, checked against docs/spec/03-module.md 3.3); this file only adds the universal ones and
 * indexes them by leaf number. Two statuses are
 * possible for every leaf and are added to every row by {@link failingStatuses}: TDX_OPERAND_INVALID
 * (RAX) (reserved RAX bits or an unsupported version, 3.1) and TDX_SYS_SHUTDOWN (the module consumed a
 * poisoned line, 3.5), the latter twice: replacing the call, and with its real side effects (the leaf
 * runs, its first private write consumes poison, what it claimed stays claimed, the module shuts down).
 * TDX_INTERRUPTED_RESUMABLE is listed, also with its effects (progress kept, the slot held), for leaves that can be interrupted, and the
 * SPDM statuses for the leaves that run an SPDM exchange: forcing them is a spurious interruption or a
 * spurious request, which a correct host must survive.
 */
import { LEAF, type LeafName, STATUS } from "../common/status.js";
import type { U64 } from "../common/u64.js";
import { type FailingStatus, UNIVERSAL_FAILURES } from "../module/leaf-table.js";
import { LEAVES } from "../module/leaves.js";

export { type FailingStatus, UNIVERSAL_FAILURES };

/**
 * Leaf-specific failing statuses (the universal ones are added by {@link failingStatuses}): the `fails`
 * of each leaf's descriptor, where the comment over each names where its statuses come from.
 */
export const LEAF_FAILURES: Readonly<Record<LeafName, readonly FailingStatus[]>> = Object.freeze(
  Object.fromEntries((Object.keys(LEAVES) as LeafName[]).map((n) => [n, LEAVES[n].fails])) as Record<
    LeafName,
    readonly FailingStatus[]
  >,
);

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
