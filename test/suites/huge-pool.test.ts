/**
 * The 4,194,304-page (16 GiB) extension memory pool of issue 15: the bring-up runs and every page is
 * conserved, within the memory a test run has. Not a timing: the figures asserted are page counts and a
 * memory bound (heap + array buffers, measured with process.memoryUsage() after the run).
 */
import { describe, expect, it } from "vitest";
import { extensionsBringUp } from "../../src/host/flows/extensions.js";
import { defaultPlatform } from "../../src/hw/platform.js";
import { createMachine } from "../../src/machine.js";
import { checkConservation } from "../../src/observe/conservation.js";

const PAGES = 4_194_304;

/**
 * Bound on heap + array buffers after the bring-up, in bytes: 512 MiB, i.e. 128 B per pool page
 * (the per-touched-page aim of docs/PERFORMANCE.md) with room for the test runner itself.
 */
const MEMORY_BOUND = 512 * 2 ** 20;

describe("a 4,194,304-page extension memory pool", () => {
  it("brings up, conserves every page and stays within the memory bound", () => {
    const p = defaultPlatform();
    const m = createMachine({ ...p, metadata: { ...p.metadata, MEMORY_POOL_REQUIRED_PAGES: PAGES } });
    const r = extensionsBringUp(m.kernel);
    expect(r.ok, `failed at ${r.failedStep} (${r.failedStatus})`).toBe(true);
    expect(r.details.poolPages).toBe(PAGES);
    expect(m.module.ext.poolPages).toBe(PAGES);
    expect(m.module.ext.initialized).toBe(true);

    const c = checkConservation(m);
    expect(c.violations).toEqual([]);
    expect(c.ok).toBe(true);
    expect(c.totals.moduleOwned).toBe(PAGES);
    expect(c.byObject["extension memory pool"]).toBe(PAGES);
    expect(m.kernel.ledger.donated.size).toBe(PAGES);
    expect(
      c.totals.free + c.totals.reserved + c.totals.hostHeld + c.totals.moduleOwned + c.totals.stranded,
    ).toBe(c.totals.total);

    const mem = process.memoryUsage();
    expect(mem.heapUsed + mem.arrayBuffers).toBeLessThan(MEMORY_BOUND);
  });
});
