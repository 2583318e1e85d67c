/**
 * A whole simulated machine: DRAM, the host's page allocator, the cache model, the emulated TDX Module
 * and the host kernel context wired to them. This is the one place where the two sides are connected,
 * and they are connected only by the SEAMCALL function and physical memory (STYLE.md 5); the cache is
 * hardware both sides go through.
 */

import { type CpuSchedule, CpuScheduler } from "./host/cpus.js";
import { createHostKernel, type HostKernel, type HostPolicy } from "./host/kernel.js";
import { PageAllocator } from "./host/page-alloc.js";
import { CacheModel } from "./hw/cache.js";
import { PhysMem } from "./hw/physmem.js";
import { defaultPlatform, hostReservedPfnRanges, type Platform, validatePlatform } from "./hw/platform.js";
import { type Behaviours, type InterruptPlan, LEAVES, TdxModule } from "./module/index.js";

/** Options of {@link createMachine}. */
export interface MachineOptions {
  readonly behaviours?: Partial<Behaviours>;
  readonly interrupts?: InterruptPlan;
  readonly policy?: Partial<HostPolicy>;
}

/** A wired machine. */
export interface Machine {
  readonly platform: Platform;
  readonly mem: PhysMem;
  readonly alloc: PageAllocator;
  readonly cache: CacheModel;
  readonly module: TdxModule;
  readonly kernel: HostKernel;
}

/**
 * Builds a machine from a platform description (validated first).
 * @example const machine = createMachine(); extensionsBringUp(machine.kernel);
 */
export function createMachine(platform: Platform = defaultPlatform(), opts: MachineOptions = {}): Machine {
  validatePlatform(platform);
  return buildMachine(platform, opts);
}

/**
 * {@link createMachine} without validating the platform: only for a platform object that already passed
 * `validatePlatform` and has not changed since (the design comparison builds thousands of machines
 * from a few platform objects within one synchronous call; validating each time cost about 2 % of it).
 */
export function buildMachine(platform: Platform, opts: MachineOptions = {}): Machine {
  const mem = new PhysMem(platform.memory);
  const alloc = new PageAllocator(mem, { reserved: hostReservedPfnRanges(platform) });
  const cache = new CacheModel(mem, platform.clflushBeforeAlloc);
  const module = new TdxModule(platform, mem, cache, LEAVES, {
    ...(opts.behaviours === undefined ? {} : { behaviours: opts.behaviours }),
    ...(opts.interrupts === undefined ? {} : { interrupts: opts.interrupts }),
  });
  const kernel = createHostKernel({
    mem,
    alloc,
    cpu: cache,
    seamcall: module.seamcall,
    sysinfo: {
      globalKeyId: platform.keyIds.global,
      keyIdShift: platform.keyIds.shift,
      clflushBeforeAlloc: platform.clflushBeforeAlloc,
    },
    ...(opts.policy === undefined ? {} : { policy: opts.policy }),
    modelReport: (kind, pfn, message) =>
      module.report(
        kind,
        pfn,
        message,
        kind === "release-list-short" ? "host release check" : "host extension lock",
      ),
  });
  // The allocator zeroes through the kernel's mapping (a KeyID-0 write) and takes pages back on free;
  // the host's ledger records every allocation and free as the allocator makes it.
  alloc.hooks = {
    onZero: (pfn) => cache.hostAccess(pfn, true),
    onFree: (pfn) => {
      cache.hostFree(pfn);
      kernel.ledger.freed(pfn);
    },
    onAlloc: (pfn, pages, tag) => kernel.ledger.allocated(pfn, pages, tag),
  };
  return { platform, mem, alloc, cache, module, kernel };
}

/**
 * Gives the machine more logical CPUs (docs/spec/03-module.md 3.2): a {@link CpuScheduler} whose calls
 * run as SEAMCALLs on their own CPU, at the module's yield points of CPU 0's calls. Returns it.
 * @example const cpus = addCpus(machine, { cpus: 2, seed: 1, p: 0.5 }); cpus.submit(1, [call]); …; cpus.drain();
 */
export function addCpus(machine: Machine, schedule: CpuSchedule): CpuScheduler {
  const s = new CpuScheduler(schedule, (cpu, regs) =>
    machine.module.onCpu(cpu, () => machine.kernel.seamcall(regs)),
  );
  machine.module.onYieldPoint = () => s.point();
  machine.kernel.cpuRelax = () => s.relax();
  return s;
}
