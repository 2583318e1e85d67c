/**
 * The SEAMCALL interface: the only code path between the host kernel and the TDX Module (STYLE.md 5).
 *
 * A call is a register file: RAX in holds the leaf (bits 15:0) and version (23:16); inputs sit in RCX,
 * RDX, R8..R15; the module overwrites the registers it outputs and returns the completion status in RAX
 * (docs/spec/03-module.md 3.1). The register file is a Uint32Array of u64 halves, so a call moves no objects.
 */
import { REG } from "./status.js";
import { type U64, u64ToHex } from "./u64.js";

/** Number of general-purpose registers (RAX..R15, by their architectural ids 0..15). */
export const NR_REGS = 16;

/** A SEAMCALL register file: 16 u64 registers as halves, indexed by register id (RAX 0, RCX 1, …). */
/** Register files per slab (16 KiB). */
const REGS_PER_SLAB = 128;
let regsSlab: Uint32Array | null = null;
let regsUsed = REGS_PER_SLAB;

/**
 * A zeroed 32-word view for one register file, carved from a slab shared by every {@link Regs}: a
 * 128-byte typed array of its own lives outside the JavaScript heap and cost about 1.3 µs to allocate,
 * a view of a slab about 0.07 µs (measured in a loop); every SEAMCALL builds at least one register file.
 * Each region is handed out once; a slab lives while any register file of it does.
 */
function regsWords(): Uint32Array {
  if (regsUsed === REGS_PER_SLAB) {
    regsSlab = new Uint32Array(REGS_PER_SLAB * NR_REGS * 2);
    regsUsed = 0;
  }
  const at = regsUsed++ * NR_REGS * 2;
  return regsSlab!.subarray(at, at + NR_REGS * 2);
}

export class Regs {
  /** Word 2r is register r's low half, 2r+1 its high half. */
  readonly w = regsWords();

  /** Low half of register `r`. */
  lo(r: number): number {
    return this.w[2 * r]!;
  }

  /** High half of register `r`. */
  hi(r: number): number {
    return this.w[2 * r + 1]!;
  }

  /** Register `r` as a U64. */
  get(r: number): U64 {
    return { lo: this.w[2 * r]!, hi: this.w[2 * r + 1]! };
  }

  /** Sets register `r`. */
  set(r: number, v: U64): this {
    this.w[2 * r] = v.lo;
    this.w[2 * r + 1] = v.hi;
    return this;
  }

  /** Sets register `r` from halves. */
  setHalves(r: number, lo: number, hi: number): this {
    this.w[2 * r] = lo;
    this.w[2 * r + 1] = hi;
    return this;
  }

  /** A copy (the host keeps one to re-issue a call with its original inputs). */
  clone(): Regs {
    const c = new Regs();
    c.w.set(this.w);
    return c;
  }

  /** Copies every register from `other`. */
  copyFrom(other: Regs): this {
    this.w.set(other.w);
    return this;
  }

  /** `{RAX: "0x…", …}` for the registers named in `ids`. */
  toHex(ids: readonly number[]): Record<number, string> {
    const o: Record<number, string> = {};
    for (const r of ids) o[r] = u64ToHex(this.lo(r), this.hi(r));
    return o;
  }
}

/** RAX value for leaf `leaf` (0..65535) at version `version` (0..255). */
export function leafRax(leaf: number, version = 0): U64 {
  return { lo: ((leaf & 0xffff) | ((version & 0xff) << 16)) >>> 0, hi: 0 };
}

/** The fields of a RAX input value (03-module.md 3.1). */
export interface LeafRax {
  /** Bits 15:0: the leaf number. */
  readonly leaf: number;
  /** Bits 23:16: the leaf version. */
  readonly version: number;
  /** True when any reserved bit (63:24) is set: the module refuses the call with OPERAND_INVALID (RAX). */
  readonly reservedSet: boolean;
}

/**
 * Splits a RAX input value given as halves (each 0..2^32−1) into leaf, version and whether a reserved bit
 * is set: the inverse of {@link leafRax} for values it makes.
 * @example decodeLeafRax(0x1002d, 0) // { leaf: 45, version: 1, reservedSet: false }
 */
export function decodeLeafRax(lo: number, hi: number): LeafRax {
  return { leaf: lo & 0xffff, version: (lo >>> 16) & 0xff, reservedSet: hi !== 0 || lo >>> 24 !== 0 };
}

/**
 * A register file for one call: RAX = leaf `leaf` (0..65535) at version `version` (0..255), and each
 * register of `inputs` (by register id) set; every other register is zero. The one way a call's
 * registers are built, on the host side and in tests.
 * @example callRegs(LEAF["TDH.SYS.RD"], { [REG.RDX]: fieldId })
 */
export function callRegs(leaf: number, inputs: Readonly<Record<number, U64>> = {}, version = 0): Regs {
  const regs = new Regs().set(REG.RAX, leafRax(leaf, version));
  // Register ids in ascending order, as for…in visits integer keys, without building a key string per
  // register as for…in does (callRegs was 5 % self of the IOMMU fault runs of `tdxpa compare`). Only the
  // ids 0..15 are read: the register file has no other register.
  for (let r = 0; r < NR_REGS; r++) {
    const v = inputs[r];
    if (v !== undefined) regs.set(r, v);
  }
  return regs;
}

/**
 * The SEAMCALL instruction as the host sees it: runs the call described by `regs` and leaves the
 * outputs (status in RAX) in `regs`. The module emulator implements it; host code calls nothing else.
 */
export type SeamcallFn = (regs: Regs) => void;
