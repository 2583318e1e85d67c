/** Test helpers: a machine, raw SEAMCALLs, and pages. */
import {
  encodeHpaListInfo,
  encodeIommuMt,
  encodeIommuMtEntry,
  encodeListEntry,
} from "../../src/common/formats.js";
import { callRegs, type Regs } from "../../src/common/seamcall.js";
import { LEAF, type LeafName, REG, STATUS, type StatusName, statusText } from "../../src/common/status.js";
import { hpaToU64, type U64 } from "../../src/common/u64.js";
import type { Page } from "../../src/host/page.js";
import { defaultPlatform, type Platform } from "../../src/hw/platform.js";
import { createMachine, type Machine, type MachineOptions } from "../../src/machine.js";

export { REG, STATUS };

/** A fresh machine: the default platform unless `platform` is given. The tests' one machine builder. */
export function machine(opts: MachineOptions = {}, platform?: Platform): Machine {
  return createMachine(platform, opts);
}

/** The default platform with some metadata changed, e.g. `{ MEMORY_POOL_REQUIRED_PAGES: 512 }` for a small pool. */
export function platformWith(metadata: Partial<Platform["metadata"]>): Platform {
  const p = defaultPlatform();
  return { ...p, metadata: { ...p.metadata, ...metadata } };
}

/** A raw SEAMCALL: returns the register file after the call. */
export function call(m: Machine, leaf: LeafName, inputs: Record<number, U64> = {}): Regs {
  const r = callRegs(LEAF[leaf], inputs);
  m.module.seamcall(r);
  return r;
}

/** `NAME(REG)` text of the status in a register file. */
export function statusOf(r: Regs): string {
  return statusText(r.get(REG.RAX));
}

/** Expected status text for a kind and operand register. */
export function want(name: StatusName, operand?: keyof typeof REG): string {
  const s = { lo: operand === undefined ? 0 : REG[operand], hi: STATUS[name].hi };
  return statusText(s);
}

/** An HPA as a u64. */
export function hpa(v: number): U64 {
  return hpaToU64(v);
}

/** Allocates `n` order-0 pages. */
export function pages(m: Machine, n: number, tag = "test"): Page[] {
  const out = m.alloc.allocPagesBulk(n, { tag });
  if (out.length !== n) throw new Error("out of memory in test");
  return out;
}

/** Writes a root page (a fresh page) with the given entries; returns its HPA. */
export function rootWith(m: Machine, entries: readonly U64[]): number {
  const root = m.alloc.allocPage({ tag: "test-root", zero: true })!;
  const w = m.mem.words(root.pfn);
  entries.forEach((e, i) => {
    w[2 * i] = e.lo;
    w[2 * i + 1] = e.hi;
  });
  return root.hpa;
}

/** An HPA_LIST_INFO operand listing `hpas` (entries as plain list entries). */
export function listInfo(m: Machine, hpas: readonly number[]): U64 {
  return encodeHpaListInfo({
    rootHpa: rootWith(
      m,
      hpas.map((h) => encodeListEntry(h)),
    ),
    count: hpas.length,
  });
}

/** An IOMMU_MT for the default metadata: two 2-page queue blocks and 16 order-0 pages. */
export function iommuMt(m: Machine): { operand: U64; rootHpa: number; blocks: Page[]; singles: Page[] } {
  const blocks = [m.alloc.allocPages(1, { tag: "q" })!, m.alloc.allocPages(1, { tag: "q" })!];
  const singles = pages(m, m.platform.metadata.IOMMU_MT_PAGE_COUNT, "mt");
  const rootHpa = rootWith(m, [
    ...blocks.map((b) => encodeIommuMtEntry(b.hpa, 2)),
    ...singles.map((p) => encodeIommuMtEntry(p.hpa, 1)),
  ]);
  return { operand: encodeIommuMt(rootHpa), rootHpa, blocks, singles };
}

/** Register base of the first TDX-capable IOMMU unit, and of the first that is not. */
export function units(m: Machine): { capable: number; incapable: number } {
  return {
    capable: m.platform.iommus.find((u) => u.tdxCapable)!.regBase,
    incapable: m.platform.iommus.find((u) => !u.tdxCapable)!.regBase,
  };
}
