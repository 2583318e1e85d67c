/**
 * Robustness under size: the whole bring-up and teardown with a 1,048,576-page (4 GiB) extension pool,
 * and on a platform with hundreds of PCIe devices behind dozens of root ports (docs/spec/02-kapi.md 2.5), each
 * checked for conservation after every flow. Core code: the caller measures heap (no Node APIs here).
 */
import { type PcieDeviceSpec, type RootPortSpec, requesterId } from "../hw/devices.js";
import { defaultPlatform, type Platform } from "../hw/platform.js";
import { createMachine } from "../machine.js";
import { checkConservation } from "../observe/conservation.js";
import { FLOWS, type FlowState } from "../scenario/flows.js";

/** Figures of one size run. */
export interface SizeRun {
  readonly name: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly seamcalls: number;
  readonly flowsOk: boolean;
  readonly violations: readonly string[];
  readonly hazards: number;
  /** Module-owned pages after bring-up, and at the end. */
  readonly moduleOwnedAfterBringUp: number;
  readonly moduleOwnedAtEnd: number;
  readonly hostHeldAtEnd: number;
  readonly details: Readonly<Record<string, number | string>>;
}

function now(): number {
  const p = (globalThis as { performance?: { now(): number } }).performance;
  return p === undefined ? Date.now() : p.now();
}

/** Runs bring-up then teardown on `platform`, checking conservation after each. */
export function sizeRun(name: string, platform: Platform): SizeRun {
  const t0 = now();
  const machine = createMachine(platform);
  const s: FlowState = { iommus: [], extra: new Map() };
  const up = FLOWS["bring-up"].run(machine, s);
  const c1 = checkConservation(machine);
  const down = FLOWS.teardown.run(machine, s);
  const c2 = checkConservation(machine);
  const all = [...up, ...down];
  let seamcalls = 0;
  for (const n of machine.module.callsByLeaf.values()) seamcalls += n;
  const details: Record<string, number | string> = {};
  for (const r of all) for (const [k, v] of Object.entries(r.details)) details[`${r.flow}.${k}`] = v;
  const violations = [...c1.violations, ...c2.violations];
  const flowsOk = all.every((r) => r.ok);
  return {
    name,
    ok: flowsOk && violations.length === 0 && machine.cache.hazards.length === 0,
    ms: Math.round(now() - t0),
    seamcalls,
    flowsOk,
    violations,
    hazards: machine.cache.hazards.length,
    moduleOwnedAfterBringUp: c1.totals.moduleOwned,
    moduleOwnedAtEnd: c2.totals.moduleOwned,
    hostHeldAtEnd: c2.totals.hostHeld,
    details,
  };
}

/** The default platform with a `pages`-page extension pool (default 1,048,576 = 4 GiB). */
export function bigPoolPlatform(pages = 1_048_576): Platform {
  const p = defaultPlatform();
  return { ...p, name: `pool-${pages}`, metadata: { ...p.metadata, MEMORY_POOL_REQUIRED_PAGES: pages } };
}

/**
 * The default platform with `devices` PCIe devices spread over root ports of `slotsPerPort` IDE stream
 * slots (enough ports that every device gets a stream), in segment 0 on buses 0x20 and up.
 */
export function manyDevicesPlatform(devices = 256, slotsPerPort = 8): Platform {
  const p = defaultPlatform();
  const ports: RootPortSpec[] = Array.from({ length: Math.ceil(devices / slotsPerPort) }, (_, i) => ({
    name: `rp${i}`,
    streamSlots: slotsPerPort,
  }));
  const ds: PcieDeviceSpec[] = Array.from({ length: devices }, (_, i) => ({
    name: `dev${i}`,
    requesterId: requesterId(0x20 + Math.floor(i / 8), i % 8, 0),
    segment: 0,
    rootPort: `rp${Math.floor(i / slotsPerPort)}`,
    spdm: {
      capabilities: 0x0000_b2f6,
      certChainSeed: `dev${i} cert chain`,
      certChainBytes: 256 + (i % 7) * 100,
      measurements: [{ index: 1, seed: `dev${i} firmware`, bytes: 48 }],
    },
  }));
  // A 1024-page pool keeps the run about the devices.
  return {
    ...p,
    name: `devices-${devices}`,
    metadata: { ...p.metadata, MEMORY_POOL_REQUIRED_PAGES: 1024 },
    devices: ds,
    rootPorts: ports,
  };
}

/** Bring-up and teardown with a 1,048,576-page pool. */
export function bigPoolRun(pages = 1_048_576): SizeRun {
  return sizeRun(`extension pool of ${pages} pages`, bigPoolPlatform(pages));
}

/** Bring-up and teardown with `devices` devices. */
export function manyDevicesRun(devices = 256): SizeRun {
  return sizeRun(`${devices} devices`, manyDevicesPlatform(devices));
}
