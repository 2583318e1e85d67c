/**
 * A clean machine for the judge's tests (test/observe/judge.test.ts, conservation.test.ts), and the small
 * corruptions they share: a host page, a free page, and a donated page the host's ledger forgets.
 */
import { expect } from "vitest";
import { PfnLabelMap } from "../../src/common/pfn-map.js";
import { extensionsBringUp } from "../../src/host/flows/extensions.js";
import { iommuSetupAll } from "../../src/host/flows/iommu.js";
import type { Machine, MachineOptions } from "../../src/machine.js";
import { machine, platformWith } from "./machine.js";

/**
 * A machine after the extensions bring-up (`poolPages` pool pages) and IOMMU setup: every ledger agrees.
 * Returns it with the pool object, the first IOMMU unit's object and the setups.
 */
export function judgedMachine(opts: MachineOptions = {}, poolPages = 16) {
  const m = machine(opts, platformWith({ MEMORY_POOL_REQUIRED_PAGES: poolPages }));
  expect(extensionsBringUp(m.kernel).ok).toBe(true);
  const io = iommuSetupAll(m.kernel, m.platform.iommus);
  expect(io.result.ok).toBe(true);
  const pool = m.module.objects.get(m.module.ext.poolObject)!;
  const unit = [...m.module.objects.values()].find((o) => o.kind === "iommu")!;
  return { m, pool, unit, setups: io.setups };
}

/** A page the host holds (allocated, tagged "test"). */
export const hostPage = (m: Machine) => m.alloc.allocPage({ tag: "test" })!.pfn;

/** A free page inside a TDMR (the allocator hands it out, then takes it back). */
export const freePage = (m: Machine) => {
  const p = m.alloc.allocPage({ tag: "probe" })!;
  m.alloc.freePages(p);
  return p.pfn;
};

/** Removes a donated page from the host's ledger without moving it to `held` (a host that forgot it). */
export const forget = (m: Machine, pfn: number) =>
  PfnLabelMap.prototype.delete.call(m.kernel.ledger.donated, pfn);
