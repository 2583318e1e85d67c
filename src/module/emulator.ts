/**
 * The module side: an emulator of the TDX Module's handling of the SEAMCALLs that take page lists
 * (docs/spec/03-module.md). It is reached only through {@link TdxModule.seamcall} (a register file in, status and
 * registers out) and simulated physical memory: it reads root pages from memory as the real module
 * would and never looks at a host object (STYLE.md 5).
 *
 * This file holds the entry (dispatch on the RAX fields `decodeLeafRax` gives, forced statuses, the record
 * of every call), the shared page checks of docs/spec/03-module.md 3.2 in the module's order, the object
 * registry, the resumption bookkeeping of 3.4 and the extension queue of depth 1. The leaves live in
 * `leaves-*.ts` and `metadata.ts`, each with its descriptor; a module is constructed with the table of them
 * (`LEAVES` of `leaves.ts`), so it has no registry of its own.
 */
import type { SharedPageCheck } from "../common/formats.js";
import { decodeLeafRax, type Regs } from "../common/seamcall.js";
import { leafName, REG, RESOURCE_OPERAND, STATUS, type StatusKind, statusText } from "../common/status.js";
import type { U64 } from "../common/u64.js";
import { hpaToPfn, PAGE_SIZE, pfnToHpa } from "../common/u64.js";
import type { CacheModel } from "../hw/cache.js";
import type { PhysMem } from "../hw/physmem.js";
import type { Platform } from "../hw/platform.js";
import { type Behaviours, DEFAULT_BEHAVIOURS, type InterruptPlan, InterruptSource } from "./behaviours.js";
import {
  type CallContext,
  type InFlight,
  type LeafImpl,
  type LeafState,
  leavesByNumber,
  type ModuleOptions,
} from "./call-types.js";
import { type LockMode, PamtLocks } from "./locks.js";
import { Pamt, PT } from "./pamt.js";
import {
  type CallRecord,
  type ForcedStatus,
  type ModelReport,
  type ModuleObject,
  type ObjectKind,
  RunListObject,
} from "./records.js";

export type {
  AbortHandler,
  CallContext,
  InFlight,
  LeafHandler,
  LeafImpl,
  ModuleOptions,
  ResumeRule,
} from "./call-types.js";
export type { CallRecord, ForcedStatus, ModelReport, ModuleObject, ObjectKind } from "./records.js";

/** 2^i for i in 0..63: KeyID arithmetic divides by 2^shift without a `**` per call. */
const POW2: readonly number[] = Array.from({ length: 64 }, (_, i) => 2 ** i);

/**
 * Leaf-family state kept per module instance (IOMMU units, SPDM sessions, …) without the emulator core
 * knowing its shape: `const units = perModule(() => new Map())`, then `units(mod)`.
 */
export function perModule<T>(init: () => T): (mod: TdxModule) => T {
  const states = new WeakMap<TdxModule, T>();
  return (mod) => {
    let s = states.get(mod);
    if (s === undefined) {
      s = init();
      states.set(mod, s);
    }
    return s;
  };
}

/** Builds a status value. */
export function st(k: StatusKind, operand = 0): U64 {
  return { lo: operand >>> 0, hi: k.hi };
}

/** TDX_SUCCESS. */
export const SUCCESS: U64 = Object.freeze({ lo: 0, hi: 0 });

/**
 * TDX_OPERAND_BUSY on the extension queue: a BUSY names its resource (TDX Module 1.5), here the
 * module's global resource SYS (ledger `ext-queue-resource`), never operand 0 (which would read as RAX).
 */
export const EXT_QUEUE_BUSY: U64 = Object.freeze(st(STATUS.TDX_OPERAND_BUSY, RESOURCE_OPERAND.SYS));

/** The emulated TDX Module. */
export class TdxModule {
  readonly pamt: Pamt;
  readonly behaviours: Behaviours;
  interrupts: InterruptSource;
  readonly objects = new Map<number, ModuleObject>();
  readonly reports: ModelReport[] = [];
  /** Per-leaf call counts (for forced statuses) and per "leaf status" totals (for reports). */
  readonly callsByLeaf = new Map<number, number>();
  readonly statusCounts = new Map<string, number>();
  /**
   * Per leaf number seen: its descriptor, name, and last status with that status's {@link statusCounts}
   * key, found with one lookup per call (three Map lookups before: descriptor, name, last status).
   */
  private readonly leafStates = new Map<number, LeafState>();
  /** Observer of each call as it completes (traces); null for speed when nobody listens. */
  onCall: ((r: CallRecord) => void) | null = null;
  /** Calls issued. */
  seq = 0;
  /** Set once the module consumed a poisoned line: every later call returns TDX_SYS_SHUTDOWN. */
  shutdown = false;
  /** Fault injection (`effects`): the next private write of this call consumes poison. */
  private poisonNextWrite = false;
  /** The extension queue slot (depth 1): the extension call in flight, or null. */
  extSlot: InFlight | null = null;
  /** Resumable non-extension calls in flight, by key (e.g. "iommu-setup:<regBase>"). */
  readonly resumables = new Map<string, InFlight>();
  /** PAMT entry locks (shared/exclusive, host priority), held per logical CPU within one SEAMCALL. */
  readonly pamtLocks = new PamtLocks();
  /** The logical CPU the running SEAMCALL was issued on (0 unless a CPU scheduler runs others). */
  cpu = 0;
  /**
   * Called at the model's concurrency points, while the running call holds PAMT locks (a page checked
   * and locked, not yet claimed): a CPU scheduler may run another logical CPU's SEAMCALL here (with
   * {@link TdxModule.onCpu}). Null: one CPU, nothing interleaves.
   */
  onYieldPoint: (() => void) | null = null;
  /** Resumable calls executing right now, with their CPU (another CPU's call may run inside one). */
  private readonly running = new Map<InFlight, number>();
  private readonly forced: ForcedStatus[] = [];
  private nextObjectId = 1;
  /** Pages made private and pages released since creation (for reports: donated and returned). */
  readonly pageCounts = { claimed: 0, released: 0 };
  /** Observer of model reports as they happen (traces). */
  onReport: ((r: ModelReport) => void) | null = null;
  /** Extension state: pool pages added and whether EXT.INIT completed. */
  readonly ext = { poolObject: 0, poolPages: 0, initialized: false };

  /** The leaves this module implements, by number (from the table it was constructed with). */
  private readonly leaves: ReadonlyMap<number, LeafImpl>;

  /**
   * A module over `platform`, `mem` and `cache` implementing the leaves of `table` (normally `LEAVES`
   * of `leaves.ts`, a `LeafTable`; a leaf not in it is OPERAND_INVALID (RAX), as an unknown leaf).
   */
  constructor(
    readonly platform: Platform,
    readonly mem: PhysMem,
    readonly cache: CacheModel,
    table: Readonly<Record<string, LeafImpl>>,
    opts: ModuleOptions = {},
  ) {
    this.leaves = leavesByNumber(table);
    this.pamt = new Pamt(platform.tdmrs);
    this.behaviours = { ...DEFAULT_BEHAVIOURS, ...opts.behaviours };
    this.interrupts = new InterruptSource(opts.interrupts ?? { kind: "none" });
    cache.isPrivate = (pfn) => this.pamt.isPrivate(pfn);
    cache.isPrivateRun = (pfn, n) => this.pamt.privateRun(pfn, n);
    this.ext.poolObject = this.addObject(
      new RunListObject(this.nextObjectId++, "ext-pool", "extension memory pool", "creating"),
    ).id;
  }

  /** The SEAMCALL instruction: runs the call in `regs` and leaves outputs and status there. */
  readonly seamcall = (regs: Regs): void => {
    const seq = ++this.seq;
    const regsIn = this.onCall === null ? null : regs.w.slice();
    const { leaf, version, reservedSet } = decodeLeafRax(regs.lo(REG.RAX), regs.hi(REG.RAX));
    const ls = this.leafState(leaf);
    const name = ls.name;
    const c: CallContext = { regs, leaf, version, seq, cause: `${name} #${seq}`, units: 0 };
    let forced = false;
    let status: U64;
    const desc = ls.desc;
    // Entry order of TDX Module 1.5 (docs/spec/03-module.md 3.1): reserved bits and version (above the
    // leaf's highest), then shutdown (for every leaf, an unknown one included), then an unknown leaf.
    if (reservedSet || version > (desc?.maxVersion ?? 0)) {
      status = st(STATUS.TDX_OPERAND_INVALID, REG.RAX);
    } else if (this.shutdown) {
      status = st(STATUS.TDX_SYS_SHUTDOWN);
    } else if (desc === undefined) {
      status = st(STATUS.TDX_OPERAND_INVALID, REG.RAX);
    } else {
      const n = (this.callsByLeaf.get(leaf) ?? 0) + 1;
      this.callsByLeaf.set(leaf, n);
      // Most machines have no forced status: no search (and no closure for it) per call.
      const f =
        this.forced.length === 0 ? undefined : this.forced.find((x) => x.leaf === leaf && x.nth === n);
      const shutdownHi = STATUS.TDX_SYS_SHUTDOWN.hi;
      const interruptHi = STATUS.TDX_INTERRUPTED_RESUMABLE.hi;
      if (f?.effects === true && (f.status.hi === shutdownHi || f.status.hi === interruptHi)) {
        forced = true;
        this.cache.cause = c.cause;
        this.interrupts.enter();
        if (f.status.hi === shutdownHi) this.poisonNextWrite = true;
        else this.interrupts.forceNext = true;
        status = desc.run(this, c);
        this.interrupts.leave();
        this.cache.cause = "host";
        if (f.status.hi === shutdownHi) {
          this.poisonNextWrite = false;
          this.shutdown = true;
          status = st(STATUS.TDX_SYS_SHUTDOWN);
        }
      } else if (f !== undefined) {
        status = f.status;
        forced = true;
        // A forced error on a re-issue ends the interrupted call it would have resumed, as a real
        // error inside that call would (ledger `forced-status-aborts`).
        if (status.hi >>> 31 === 1) this.abortInFlight(leaf);
      } else {
        this.cache.cause = c.cause;
        this.interrupts.enter();
        if (
          this.behaviours.interruptCallOnceLeaves &&
          desc.resume === "call-once" &&
          this.interrupts.afterUnit()
        ) {
          // An interrupt point at entry, before any work: a re-issue with the same inputs does the call.
          this.report(
            "call-once-interrupted",
            0,
            `${name} interrupted at entry: the kernel calls this leaf once, so it fails the operation (-EFAULT)`,
            c.cause,
          );
          status = st(STATUS.TDX_INTERRUPTED_RESUMABLE);
        } else status = desc.run(this, c);
        this.cache.cause = "host";
      }
    }
    // TDX Module 1.5: every PAMT lock the call took is released before the SEAMCALL returns.
    this.pamtLocks.releaseAll(this.cpu);
    if (this.running.size > 0)
      for (const [f, cpu] of this.running) if (cpu === this.cpu) this.running.delete(f);
    regs.set(REG.RAX, status);
    // The key of the leaf's last status is reused when the status repeats: the same string object, whose
    // hash V8 keeps, instead of a new string built and hashed on every call.
    if (ls.lastKey === null || ls.lastLo !== status.lo || ls.lastHi !== status.hi) {
      ls.lastLo = status.lo;
      ls.lastHi = status.hi;
      ls.lastKey = `${name} ${statusText(status)}`;
    }
    const key = ls.lastKey;
    this.statusCounts.set(key, (this.statusCounts.get(key) ?? 0) + 1);
    if (this.onCall !== null && regsIn !== null) {
      this.onCall({
        seq,
        leaf,
        leafName: name,
        regsIn,
        regsOut: regs.w.slice(),
        status,
        statusText: statusText(status),
        units: c.units,
        forced,
        cpu: this.cpu,
      });
    }
  };

  /** The state of leaf number `leaf` (made on its first call). */
  private leafState(leaf: number): LeafState {
    let ls = this.leafStates.get(leaf);
    if (ls === undefined) {
      ls = {
        desc: this.leaves.get(leaf),
        name: leafName(leaf) ?? `leaf ${leaf}`,
        lastLo: 0,
        lastHi: 0,
        lastKey: null,
      };
      this.leafStates.set(leaf, ls);
    }
    return ls;
  }

  /**
   * Runs `fn` (a SEAMCALL issued on logical CPU `cpu`) from inside the running call, at one of its
   * yield points, and restores the running call's CPU, cache cause and interrupt count afterwards: the
   * other CPU's call happens between two steps of this one, as on real parallel hardware.
   */
  onCpu<T>(cpu: number, fn: () => T): T {
    const saved = { cpu: this.cpu, cause: this.cache.cause, units: this.interrupts.unitsSinceEntry };
    this.cpu = cpu;
    try {
      return fn();
    } finally {
      this.cpu = saved.cpu;
      this.cache.cause = saved.cause;
      this.interrupts.unitsSinceEntry = saved.units;
    }
  }

  /**
   * Takes the PAMT walk to `pfn` for the running call in `mode` (docs/spec/03-module.md 3.2); a refusal
   * is TDX_OPERAND_BUSY naming `operand` (or TDX_OPERAND_BUSY_HOST_PRIORITY for a guest requester,
   * which no modelled leaf is). Null when taken. The lock is released when the page is claimed, or when
   * the SEAMCALL returns.
   */
  lockPage(pfn: number, mode: LockMode, operand: number): U64 | null {
    const r = this.pamtLocks.acquire(this.cpu, pfn, mode);
    if (r === "ok") return null;
    return st(r === "busy" ? STATUS.TDX_OPERAND_BUSY : STATUS.TDX_OPERAND_BUSY_HOST_PRIORITY, operand);
  }

  /** Replaces the interrupt plan from now on (scenario steps change schedules mid-run). */
  setInterrupts(plan: InterruptPlan): void {
    this.interrupts = new InterruptSource(plan);
  }

  /** Forces `status` on the `nth` call of `leaf` (counted from creation); the call then has no effect. */
  forceStatus(f: ForcedStatus): void {
    this.forced.push(f);
  }

  // ---- objects ------------------------------------------------------------------------------------

  /** Registers a new object that will own pages. */
  newObject(kind: ObjectKind, name: string): ModuleObject {
    return this.addObject({ id: this.nextObjectId++, kind, name, pages: [], state: "creating" });
  }

  private addObject<T extends ModuleObject>(o: T): T {
    this.objects.set(o.id, o);
    return o;
  }

  /** Removes an object (its pages must have been released). */
  dropObject(id: number): void {
    this.objects.delete(id);
  }

  // ---- addresses and KeyIDs -----------------------------------------------------------------------

  /** KeyID carried in the top bits of an HPA (< 2^52). */
  keyIdOf(hpa: number): number {
    return Math.floor(hpa / POW2[this.platform.keyIds.shift]!);
  }

  /**
   * {@link keyIdOf} of the HPA `pfn * PAGE_SIZE` (exact for any PFN below 2^41), by PFN: a caller
   * passes a small integer where an HPA above 2^31 is a heap number per call when the callee is not
   * inlined (EXT.MEM.ADD, once per entry).
   */
  keyIdOfPfn(pfn: number): number {
    return Math.floor((pfn * PAGE_SIZE) / POW2[this.platform.keyIds.shift]!);
  }

  /** The HPA without its KeyID bits. */
  stripKeyId(hpa: number): number {
    return hpa - this.keyIdOf(hpa) * POW2[this.platform.keyIds.shift]!;
  }

  /** True when `keyId` is one of TDX's private KeyIDs. */
  isPrivateKeyId(keyId: number): boolean {
    const k = this.platform.keyIds;
    return keyId >= k.firstPrivate && keyId < k.firstPrivate + k.privateCount;
  }

  /** True when the page is inside the module's own range. */
  inModuleRange(pfn: number): boolean {
    const r = this.platform.moduleRange;
    return pfn >= r.base / PAGE_SIZE && pfn < (r.base + r.size) / PAGE_SIZE;
  }

  // ---- the page checks of 03-module.md 3.2, in the module's order ---------------------------------

  /**
   * Rule 3 for a shared operand page (root page, message page, temporary buffer): aligned (the formats
   * guarantee it), below 2^52, no private KeyID, not in the module's range. A module-owned page is
   * handled per the `moduleOwnedSharedPage` behaviour. Returns why it is not valid, or null.
   */
  readonly sharedPageProblem: SharedPageCheck = (hpa: number): string | null => {
    const keyId = this.keyIdOf(hpa);
    if (this.isPrivateKeyId(keyId)) return `carries private KeyID ${keyId}`;
    const pfn = hpaToPfn(this.stripKeyId(hpa));
    if (this.inModuleRange(pfn)) return "is inside the module's range";
    if (this.pamt.inTdmr(pfn) && this.pamt.isPrivate(pfn)) {
      const mode = this.behaviours.moduleOwnedSharedPage;
      if (mode === "reject") return "is a page the module owns";
      if (mode === "report") {
        this.report(
          "module-owned-shared-page",
          pfn,
          `shared operand page 0x${(pfnToHpa(pfn)).toString(16)} is owned by the module (object ${this.pamt.owner(pfn)})`,
        );
      }
    }
    return null;
  };

  /**
   * The private operand page checks for a block of `pages` pages at `hpa` (as an entry carries it,
   * KeyID bits included), in the module's order: aligned, KeyID 0, below 2^52 → OPERAND_INVALID; in a
   * TDMR → OPERAND_ADDR_RANGE_ERROR; the PAMT entry locked exclusively for this call, else (another
   * logical CPU's call holds it) OPERAND_BUSY; PT_NDA in every page → PAGE_METADATA_INCORRECT. Returns
   * the failing status (with `operand`), or null with every page locked until {@link claimPage} (or the
   * SEAMCALL's return) releases it; then another CPU's call may run ({@link onYieldPoint}).
   */
  privatePageStatus(hpa: number, pages: number, operand: number): U64 | null {
    if (this.privateOperandInvalid(hpa, pages)) return st(STATUS.TDX_OPERAND_INVALID, operand);
    return this.privatePfnStatus(hpa / PAGE_SIZE, pages, operand);
  }

  /**
   * The first of {@link privatePageStatus}'s checks, for a block of `pages` pages at `hpa`: true when
   * the address is misaligned for the block, at or above 2^52, or carries a KeyID (OPERAND_INVALID).
   * Small, so that an optimised caller inlines it and its HPA (a double above 2^31) is never boxed.
   */
  privateOperandInvalid(hpa: number, pages: number): boolean {
    // Alignment as a mask of the low half when the block is a power of two of at most 2^20 pages
    // (every entry's is); a float % only for anything else.
    const span = PAGE_SIZE * pages;
    const misaligned =
      pages >= 1 && (pages & (pages - 1)) === 0 && span <= 0x1_0000_0000
        ? ((hpa >>> 0) & (span - 1)) !== 0
        : hpa % span !== 0;
    if (misaligned || hpa >= 2 ** 52 || this.keyIdOf(hpa) !== 0) return true;
    return false;
  }

  /**
   * The rest of {@link privatePageStatus}, for a block whose HPA passed {@link privateOperandInvalid}:
   * by PFN (`hpa / PAGE_SIZE`, a small integer where the HPA is a heap number per call when passed to a
   * function not inlined: 16 bytes per page on the extension pool's path).
   */
  privatePfnStatus(pfn: number, pages: number, operand: number): U64 | null {
    for (let i = 0; i < pages; i++)
      if (!this.pamt.inTdmr(pfn + i)) return st(STATUS.TDX_OPERAND_ADDR_RANGE_ERROR, operand);
    for (let i = 0; i < pages; i++) {
      const busy = this.lockPage(pfn + i, "exclusive", operand);
      if (busy !== null) {
        for (let j = 0; j < i; j++) this.pamtLocks.release(this.cpu, pfn + j);
        return busy;
      }
    }
    for (let i = 0; i < pages; i++) {
      if (this.pamt.type(pfn + i) !== PT.NDA) {
        for (let j = 0; j < pages; j++) this.pamtLocks.release(this.cpu, pfn + j);
        return st(STATUS.TDX_PAGE_METADATA_INCORRECT, operand);
      }
    }
    this.onYieldPoint?.();
    return null;
  }

  /** Makes a checked page private: PAMT type and owner, cache hand-over (hazard 1 is checked here). */
  claimPage(pfn: number, type: number, owner: ModuleObject): void {
    this.pamtLocks.release(this.cpu, pfn);
    this.pamt.set(pfn, type, owner.id);
    this.cache.becomePrivate(pfn);
    if (owner instanceof RunListObject) owner.append(pfn);
    else owner.pages.push(pfn);
    this.pageCounts.claimed++;
  }

  /** Returns a page to PT_NDA; lines dirty under private KeyIDs stay in the cache (now stale). */
  releasePage(pfn: number): void {
    this.pamt.set(pfn, PT.NDA, 0);
    this.pageCounts.released++;
    this.cache.leavePrivate(pfn);
    this.cache.poisoned.delete(pfn);
  }

  /**
   * The module writes one of its private pages through its global KeyID. Consuming a page whose integrity
   * a stale host write-back broke shuts the module down (ledger `stale-writeback-damage`). Returns false then.
   */
  writePrivate(pfn: number, cause: string): boolean {
    if (this.poisonNextWrite) {
      // A forced shutdown with effects: the real cause (a poisoned line) without a host bug behind it.
      this.poisonNextWrite = false;
      this.shutdown = true;
      return false;
    }
    // A Set probe per page only while something is poisoned (EXT.INIT writes every pool page).
    const poisoned = this.cache.poisoned;
    if (poisoned.size !== 0 && poisoned.has(pfn)) {
      this.report(
        "poison-consumed",
        pfn,
        `module touched poisoned page 0x${(pfnToHpa(pfn)).toString(16)}: integrity check failed`,
        cause,
      );
      this.shutdown = true;
      return false;
    }
    this.cache.moduleWrite(pfn, this.platform.keyIds.global);
    return true;
  }

  /**
   * A host bug the module does not refuse (ledger `root-lists-itself`): an entry of the root page at
   * `rootHpa` names a block of `pages` pages at `hpa` that holds the root page itself, so the list the
   * module keeps reading becomes one of its private pages. Reported once per entry; the call proceeds.
   */
  checkRootListsItself(rootHpa: number, hpa: number, pages: number, entry: number): void {
    const root = hpaToPfn(this.stripKeyId(rootHpa));
    const first = hpa / PAGE_SIZE;
    if (root >= first && root < first + pages)
      this.report(
        "root-lists-itself",
        root,
        `root page 0x${(pfnToHpa(root)).toString(16)} lists itself in entry ${entry}: the host handed its own page list to the module`,
      );
  }

  /** Records a model report. */
  report(kind: ModelReport["kind"], pfn: number, message: string, cause = this.cache.cause): void {
    const r: ModelReport = { kind, pfn, cause, message };
    this.reports.push(r);
    this.onReport?.(r);
  }

  // ---- resumption (03-module.md 3.4) --------------------------------------------------------------

  /**
   * For a leaf that keeps its progress inside the module: finds the call to resume, or starts a new
   * one. `key` names the object the call works on (null: the extension queue slot). Returns the
   * in-flight record, or a status when the re-issue is refused: different inputs → INVALID_RESUMPTION,
   * another extension call in flight → OPERAND_BUSY; the call it would resume executing right now on
   * another logical CPU → OPERAND_BUSY naming the first input register (the object's resource).
   */
  beginResumable(c: CallContext, key: string | null, inputRegs: readonly number[]): InFlight | U64 {
    const inputs = new Uint32Array(inputRegs.length * 2);
    inputRegs.forEach((r, i) => {
      inputs[2 * i] = c.regs.lo(r);
      inputs[2 * i + 1] = c.regs.hi(r);
    });
    const cur = key === null ? this.extSlot : this.resumables.get(key);
    if (cur !== undefined && cur !== null) {
      if (this.running.has(cur)) return st(STATUS.TDX_OPERAND_BUSY, inputRegs[0] ?? 0);
      if (cur.leaf !== c.leaf) return EXT_QUEUE_BUSY;
      for (let i = 0; i < inputs.length; i++)
        if (inputs[i] !== cur.inputs[i]) return st(STATUS.TDX_INVALID_RESUMPTION);
      this.running.set(cur, this.cpu);
      return cur;
    }
    if (key !== null && this.extSlot !== null && this.isExtensionLeaf(c.leaf)) return EXT_QUEUE_BUSY;
    const f: InFlight = { leaf: c.leaf, inputs, progress: 0 };
    if (key === null) this.extSlot = f;
    else this.resumables.set(key, f);
    this.running.set(f, this.cpu);
    return f;
  }

  /**
   * Ends every in-flight call of `leaf`, undoing its progress with the leaf's abort handler (pages it
   * claimed go back to PT_NDA), and frees its slot.
   */
  abortInFlight(leaf: number): void {
    if (this.extSlot !== null && this.extSlot.leaf === leaf) {
      this.leaves.get(leaf)?.abort?.(this, this.extSlot);
      this.endResumable(this.extSlot, null);
    }
    for (const [key, f] of [...this.resumables]) {
      if (f.leaf !== leaf) continue;
      this.leaves.get(leaf)?.abort?.(this, f);
      this.endResumable(f, key);
    }
  }

  /** Ends a resumable call (done or failed): frees its slot. */
  endResumable(f: InFlight, key: string | null): void {
    if (key === null) {
      if (this.extSlot === f) this.extSlot = null;
    } else if (this.resumables.get(key) === f) this.resumables.delete(key);
  }

  /**
   * Returns TDX_INTERRUPTED_RESUMABLE for a call that keeps its progress inside the module; with
   * `clobberInputsOnInterrupt` its input registers come back overwritten, so only a host that kept its
   * own copy can re-issue correctly.
   */
  interrupted(c: CallContext, inputRegs: readonly number[]): U64 {
    if (this.behaviours.clobberInputsOnInterrupt) {
      for (const r of inputRegs) c.regs.setHalves(r, 0xdead_0000 | (c.seq % 0x1_0000), 0xc10b_b3d0);
    }
    return st(STATUS.TDX_INTERRUPTED_RESUMABLE);
  }

  /** True when `leaf` is an extension call (shares the queue slot of depth 1). */
  isExtensionLeaf(leaf: number): boolean {
    return this.leaves.get(leaf)?.extensionQueue === true;
  }
}
