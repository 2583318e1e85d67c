/**
 * The types a leaf and the emulator share: what a leaf sees of a call (`CallContext`), what the emulator
 * runs of a leaf descriptor (`LeafImpl`), the resume rules and in-flight progress of docs/spec/03-module.md
 * 3.3–3.4, and a module's options. `emulator.ts` re-exports them; the leaves import them from there.
 * Also the emulator's per-leaf lookups (`leavesByNumber`, `LeafState`), kept here to hold emulator.ts
 * under the 600-line limit.
 */
import type { Regs } from "../common/seamcall.js";
import type { U64 } from "../common/u64.js";
import type { Behaviours, InterruptPlan } from "./behaviours.js";
import type { TdxModule } from "./emulator.js";

/** Progress of a call that keeps it inside the module (resume with the original inputs). */
export interface InFlight {
  readonly leaf: number;
  /** Input registers as first issued (RCX..R15), to compare on re-issue. */
  readonly inputs: Uint32Array;
  /** Leaf-specific progress. */
  progress: number;
  /** Leaf-specific scratch. */
  data?: unknown;
}

/**
 * How a leaf may be interrupted (03-module.md 3.3–3.4):
 * - `interruptible`: returns TDX_INTERRUPTED_RESUMABLE between units of work and is re-issued;
 * - `call-once`: the kernel calls it once, so an interrupt is a failure there (injected at entry only
 *   under behaviour `interruptCallOnceLeaves`);
 * - `uninterrupted`: runs to completion in one call.
 */
export type ResumeRule = "interruptible" | "call-once" | "uninterrupted";

/** One leaf's implementation: reads inputs from `c.regs`, writes outputs, returns the status. */
export type LeafHandler = (mod: TdxModule, c: CallContext) => U64;

/** Undoes the progress of an in-flight call of a leaf that failed (see {@link TdxModule.abortInFlight}). */
export type AbortHandler = (mod: TdxModule, f: InFlight) => void;

/** What the emulator runs of a leaf descriptor (leaf-table.ts `LeafDescriptor` adds what tools read). */
export interface LeafImpl {
  readonly number: number;
  readonly maxVersion: number;
  readonly resume: ResumeRule;
  readonly extensionQueue: boolean;
  readonly run: LeafHandler;
  readonly abort: AbortHandler | null;
}

/** What a leaf sees of the call in progress. */
export interface CallContext {
  readonly regs: Regs;
  readonly leaf: number;
  /** The leaf version (RAX bits 23:16); above the leaf's highest version the call never reaches it. */
  readonly version: number;
  readonly seq: number;
  /** Name used in hazard causes and reports: "TDH.IOMMU.SETUP #12". */
  readonly cause: string;
  units: number;
}

/** Options of a module instance. */
export interface ModuleOptions {
  readonly behaviours?: Partial<Behaviours>;
  readonly interrupts?: InterruptPlan;
}

/**
 * Each frozen leaf table's leaves by number, made once per table and shared read-only by every module
 * built on it (a comparison builds thousands of machines on `LEAVES`); a table that is not frozen may
 * still change, so each module built on it gets a map of its own.
 */
const LEAVES_BY_NUMBER = new WeakMap<object, ReadonlyMap<number, LeafImpl>>();

export function leavesByNumber(table: Readonly<Record<string, LeafImpl>>): ReadonlyMap<number, LeafImpl> {
  const frozen = Object.isFrozen(table);
  let m = frozen ? LEAVES_BY_NUMBER.get(table) : undefined;
  if (m === undefined) {
    m = new Map(Object.values(table).map((d) => [d.number, d]));
    if (frozen) LEAVES_BY_NUMBER.set(table, m);
  }
  return m;
}

/** What the emulator keeps per leaf number: see `TdxModule.leafStates` (emulator.ts). */
export interface LeafState {
  readonly desc: LeafImpl | undefined;
  readonly name: string;
  lastLo: number;
  lastHi: number;
  /** The {@link TdxModule.statusCounts} key of the last status (null before the first call returns). */
  lastKey: string | null;
}
