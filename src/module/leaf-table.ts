/**
 * The shape of one SEAMCALL leaf as the emulator knows it (docs/spec/03-module.md 3.1–3.4): its number and
 * highest version, its input and output registers with how each is shown, every failing status it can
 * return, its resume rule and its implementation. The descriptors themselves sit beside their
 * implementations (`leaves-*.ts`, `metadata.ts`) and are gathered into {@link LeafTable} by `leaves.ts`;
 * the emulator is constructed with that table, and `observe/describe-call.ts` (operands) and
 * `faults/fault-table.ts` (failing statuses) derive from it.
 *
 * The leaf numbers themselves stay in `common/status.ts` (`LEAF`): the host side, the C header and the
 * module-facts tests read them there, and the host may not import the module. A descriptor's `number` is
 * typed as the literal `LEAF[name]`, so a descriptor that disagrees with `LEAF` does not compile.
 */
import { type LEAF, type LeafName, REG, RESOURCE_OPERAND, type StatusName } from "../common/status.js";
import type { AbortHandler, LeafHandler, LeafImpl, ResumeRule } from "./emulator.js";

/** How an operand register is read and shown (the format decoder `describe-call.ts` applies to it). */
export type OperandKind =
  | "hpa-list-info"
  | "hpa-array"
  | "iommu-mt"
  | "field-id"
  | "hpa"
  | "hpa-keyid"
  | "id"
  | "u64";

/** One register of a leaf's interface: its id (`REG`) and its kind. */
export type LeafOperand = readonly [reg: number, kind: OperandKind];

/** One failing status: its kind and the operand id in bits 31:0 (0 when it names no operand). */
export interface FailingStatus {
  readonly name: StatusName;
  readonly operand: number;
  /** Forced with the real failure's side effects (emulator `ForcedStatus.effects`). */
  readonly effects?: boolean;
}

/** The emulator-side parts of a descriptor, re-exported for the leaf files. */
export type { AbortHandler, LeafHandler, ResumeRule };

/** Everything the model states about one SEAMCALL leaf. */
export interface LeafDescriptor<N extends LeafName = LeafName> extends LeafImpl {
  readonly name: N;
  /** RAX bits 15:0; must equal `LEAF[name]` (checked by the compiler). */
  readonly number: (typeof LEAF)[N];
  /** Highest RAX version (bits 23:16) accepted; above it the call is OPERAND_INVALID (RAX). */
  readonly maxVersion: number;
  /** Input registers and their kinds, in the order a transcript shows them. */
  readonly inputs: readonly LeafOperand[];
  /** Output registers worth showing on success (or on TDX_INTERRUPTED_RESUMABLE). */
  readonly outputs: readonly LeafOperand[];
  /**
   * The leaf-specific failing statuses, in the order the fault injector forces them (TDX_OPERAND_INVALID
   * (RAX) and TDX_SYS_SHUTDOWN are possible for every leaf and are not listed).
   */
  readonly fails: readonly FailingStatus[];
  readonly resume: ResumeRule;
  /** True for an extension call: it shares the extension queue slot of depth 1 (03-module.md 3.4). */
  readonly extensionQueue: boolean;
  /** The implementation (a named function, so stack traces name the leaf). */
  readonly run: LeafHandler;
  /** How to undo an interrupted call's kept progress when a later re-issue fails; null: nothing kept to undo. */
  readonly abort: AbortHandler | null;
}

/** One descriptor per leaf: a missing leaf or field is a compile error. */
export type LeafTable = { readonly [N in LeafName]: LeafDescriptor<N> };

// ---- building blocks of the `fails` lists -------------------------------------------------------

/** A failing status of kind `name` naming operand `operand`. */
export const fail = (name: StatusName, operand = 0): FailingStatus => Object.freeze({ name, operand });

/** A failing status forced with the real failure's side effects. */
export const failWithEffects = (name: StatusName): FailingStatus =>
  Object.freeze({ name, operand: 0, effects: true });

/** Statuses of the private operand page checks (03-module.md 3.2), on the register that named the pages. */
export const privatePageChecks = (reg: number): FailingStatus[] => [
  fail("TDX_OPERAND_INVALID", reg),
  fail("TDX_OPERAND_ADDR_RANGE_ERROR", reg),
  fail("TDX_OPERAND_BUSY", reg),
  fail("TDX_PAGE_METADATA_INCORRECT", reg),
];

/** Statuses of a leaf that keeps its progress in the extension slot (03-module.md 3.4). */
export const extensionResumable: readonly FailingStatus[] = [
  fail("TDX_INTERRUPTED_RESUMABLE"),
  failWithEffects("TDX_INTERRUPTED_RESUMABLE"),
  fail("TDX_INVALID_RESUMPTION"),
  fail("TDX_OPERAND_BUSY", RESOURCE_OPERAND.SYS),
];

/**
 * Statuses of an SPDM exchange (spdm-common.ts `runExchange`, `messagePages`) on the leaf's response and
 * request registers (the register table of 03-module.md 3.3).
 */
export const exchangeFailures = (rsp: number, req: number): FailingStatus[] => [
  fail("TDX_SPDM_REQUEST"),
  fail("TDX_OPERAND_INVALID", rsp),
  fail("TDX_OPERAND_INVALID", req),
];

/** Statuses every leaf can return (03-module.md 3.1 and 3.5): RAX reserved bits or version; shutdown. */
export const UNIVERSAL_FAILURES: readonly FailingStatus[] = Object.freeze([
  fail("TDX_OPERAND_INVALID", REG.RAX),
  fail("TDX_SYS_SHUTDOWN"),
  failWithEffects("TDX_SYS_SHUTDOWN"),
]);
