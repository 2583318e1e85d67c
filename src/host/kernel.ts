/**
 * The host kernel's view of the machine: what `tdx_page_array` and the TDX host driver use.
 *
 * A {@link HostKernel} bundles the page allocator, the kernel's mapping of physical memory
 * (`page_address`/`kmap`), the CPU's cache-line flush instruction, the SEAMCALL instruction and the
 * facts the driver learned from the module at initialisation (the global KeyID and where KeyID bits sit
 * in a physical address). Host code receives one of these and touches memory and the module only
 * through it, so the hardware layer can watch every host access (the cache model of 03-module.md 3.5).
 */
import { checkInt } from "../common/errors.js";
import type { SeamcallFn } from "../common/seamcall.js";
import { PAGE_SIZE } from "../common/u64.js";
import type { PhysMem } from "../hw/physmem.js";
import type { PageAllocator } from "./page-alloc.js";

/** What the host needs from the CPU beyond plain memory: notice of accesses, and CLFLUSH. */
export interface HostCpu {
  /** The host is about to read (`write` false) or write page `pfn` through KeyID 0. */
  hostAccess(pfn: number, write: boolean): void;
  /** CLFLUSH of every line of page `pfn` under KeyID 0 (write back and drop). */
  clflushPage(pfn: number): void;
}

/** A CPU with no cache model: accesses and flushes have no effect (used before the emulator exists). */
export const PLAIN_CPU: HostCpu = Object.freeze({
  hostAccess(): void {},
  clflushPage(): void {},
});

/** Facts the driver reads from the module once at initialisation. */
export interface TdxSysInfo {
  /** The module's global (private) KeyID, used for PAGE.WBINVD of module-owned pages. */
  readonly globalKeyId: number;
  /** Lowest bit of the KeyID field in a physical address (the platform's physical address width). */
  readonly keyIdShift: number;
}

/** The host kernel context. */
export interface HostKernel {
  readonly mem: PhysMem;
  readonly alloc: PageAllocator;
  readonly cpu: HostCpu;
  readonly seamcall: SeamcallFn;
  readonly sysinfo: TdxSysInfo;
}

/** Builds a {@link HostKernel}; `cpu` defaults to {@link PLAIN_CPU}. */
export function createHostKernel(parts: {
  mem: PhysMem;
  alloc: PageAllocator;
  seamcall: SeamcallFn;
  sysinfo: TdxSysInfo;
  cpu?: HostCpu;
}): HostKernel {
  checkInt("sysinfo.keyIdShift", parts.sysinfo.keyIdShift, 12, 51);
  checkInt("sysinfo.globalKeyId", parts.sysinfo.globalKeyId, 0, 2 ** (52 - parts.sysinfo.keyIdShift) - 1);
  return { mem: parts.mem, alloc: parts.alloc, seamcall: parts.seamcall, sysinfo: parts.sysinfo, cpu: parts.cpu ?? PLAIN_CPU };
}

/**
 * `page_address` for writing: the page's 1024 u32 words (512 u64 entries), after telling the CPU model
 * that the host writes it through KeyID 0.
 */
export function mapPageForWrite(k: HostKernel, pfn: number): Uint32Array {
  k.cpu.hostAccess(pfn, true);
  return k.mem.words(pfn);
}

/** `page_address` for reading: the page's bytes, after telling the CPU model the host reads it. */
export function mapPageForRead(k: HostKernel, pfn: number): Uint8Array {
  k.cpu.hostAccess(pfn, false);
  return k.mem.page(pfn);
}

/** A physical address carrying `keyId` in its KeyID bits (what PAGE.WBINVD takes in RCX). */
export function hpaWithKeyId(k: HostKernel, hpa: number, keyId: number): number {
  return hpa + keyId * 2 ** k.sysinfo.keyIdShift;
}

export { PAGE_SIZE };
