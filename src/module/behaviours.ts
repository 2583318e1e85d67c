/**
 * Named, switchable behaviours for every point where the sources are silent (docs/spec/03-module.md items marked
 * "(assumption)"). Each has the spec's default; docs/ASSUMPTIONS.md is the ledger that explains them.
 * A scenario or test can flip one to see what a different module would do.
 */
import { xorshift32 } from "../common/rng.js";

/** The emulator's switchable behaviours. */
export interface Behaviours {
  /** Ledger `ext-add-partial-keep`: on a bad entry, pages EXT.MEM.ADD already added stay added. */
  readonly extAddKeepsPartial: boolean;
  /** Ledger `shared-page-owned`: what to do when a shared operand page (root, buffer) is module-owned. */
  readonly moduleOwnedSharedPage: "report" | "reject" | "ignore";
  /** Ledger `release-singleton-strict`: DELETE's release input must be 0 exactly when the object holds one page. */
  readonly releaseSingletonStrict: boolean;
  /**
   * Ledger `clobber-on-interrupt`: when a leaf that keeps its progress inside the module is interrupted,
   * its input registers come back overwritten (the spec: "returned registers may have been overwritten").
   */
  readonly clobberInputsOnInterrupt: boolean;
  /** Ledger `unbacked-read-all-ones`: a read of an address no memory decodes returns all ones. */
  readonly unbackedReadsAllOnes: boolean;
  /** Wrong-module variant (issue 4): DELETE succeeds but leaves one page out of its released list. */
  readonly deleteOmitsOnePage: boolean;
  /**
   * Ledger `spdm-key-refresh`: after this many SPDM messages on a session since its last key update, the
   * next TDH.SPDM.MNG (other than KEY_UPDATE), TDH.SPDM.DISCONNECT or TDH.IDE.STREAM.KM returns
   * TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH. 0: never.
   */
  readonly spdmKeyRefreshAfter: number;
  /**
   * Ledger `call-once-no-interrupt`: may the interrupt plan interrupt the leaves the kernel calls once
   * (SPDM.CREATE/DELETE, IDE.STREAM.CREATE/BLOCK/DELETE)? Default no. When yes, such a call may return
   * TDX_INTERRUPTED_RESUMABLE at entry (nothing done) with model report `call-once-interrupted`, so the
   * kernel's assumption that they are not interrupted is visible.
   */
  readonly interruptCallOnceLeaves: boolean;
  /**
   * Ledger `sys-config`: the module starts already configured by TDH.SYS.CONFIG with every feature it
   * advertises. Default no: feature metadata is valid only after the host's SYS.CONFIG.
   */
  readonly startConfigured: boolean;
}

/** The spec's defaults. */
export const DEFAULT_BEHAVIOURS: Behaviours = Object.freeze({
  extAddKeepsPartial: true,
  moduleOwnedSharedPage: "report",
  releaseSingletonStrict: true,
  clobberInputsOnInterrupt: true,
  unbackedReadsAllOnes: true,
  deleteOmitsOnePage: false,
  spdmKeyRefreshAfter: 0,
  interruptCallOnceLeaves: false,
  startConfigured: false,
});

/** Ranges of the numeric behaviours, the one definition the scenario schema offers. */
export const BEHAVIOUR_RANGES = Object.freeze({
  /** SPDM messages per session before a key refresh is required (0: never); a 32-bit counter. */
  spdmKeyRefreshAfter: Object.freeze({ min: 0, max: 0xffff_ffff }),
});

/** How interrupts are injected: deterministic, so every run can be replayed (03-module.md 3.4). */
export type InterruptPlan =
  | { readonly kind: "none" }
  /** Interrupt a resumable call after every `k` units of work it does (at least one unit per call). */
  | { readonly kind: "every"; readonly k: number }
  /** Interrupt after each unit with probability `p`, from a seeded generator. */
  | { readonly kind: "random"; readonly p: number; readonly seed: number };

/** Decides, unit by unit, whether the running call is interrupted. Deterministic for a given plan. */
export class InterruptSource {
  private state: number;
  /** Units done since the running call entered (saved and restored around a nested call). */
  unitsSinceEntry = 0;
  /** Interrupts injected so far. */
  taken = 0;
  /** Fault injection: the next unit boundary of this call interrupts, whatever the plan says. */
  forceNext = false;

  constructor(readonly plan: InterruptPlan = { kind: "none" }) {
    this.state = plan.kind === "random" ? plan.seed >>> 0 || 0x9e3779b9 : 1;
  }

  /** Called at the start of every call. */
  enter(): void {
    this.unitsSinceEntry = 0;
  }

  /**
   * Whether an interrupt is already pending when a call that keeps no progress starts (it then returns
   * TDX_INTERRUPTED_RESTARTABLE). Only the seeded random plan has such interrupts (probability `p`): an
   * "every k units" plan would restart such a call forever.
   */
  atEntry(): boolean {
    if (this.plan.kind !== "random" || this.next() >= this.plan.p) return false;
    this.taken++;
    return true;
  }

  /** Called when a call ends: a forced interruption that found no unit boundary lapses. */
  leave(): void {
    this.forceNext = false;
  }

  /**
   * Called after each unit of work when more remain; true means "return TDX_INTERRUPTED_RESUMABLE now".
   * A call always completes at least one unit, so progress is guaranteed.
   */
  afterUnit(): boolean {
    this.unitsSinceEntry++;
    let fire = false;
    if (this.forceNext) {
      this.forceNext = false;
      fire = true;
    } else if (this.plan.kind === "every") fire = this.unitsSinceEntry >= this.plan.k;
    else if (this.plan.kind === "random") fire = this.next() < this.plan.p;
    if (fire) this.taken++;
    return fire;
  }

  /** xorshift32: a small seeded generator (not cryptographic, just replayable). */
  private next(): number {
    this.state = xorshift32(this.state);
    return this.state / 0x1_0000_0000;
  }
}
