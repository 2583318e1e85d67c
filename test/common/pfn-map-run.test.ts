/**
 * PfnLabelMap.setRun (src/common/pfn-map.ts), what the host ledger uses to record an allocation of many
 * pages at once, against labelling the same PFNs one by one: same labels, same size, across sections.
 */
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { PfnLabelMap } from "../../src/common/pfn-map.js";

describe("PfnLabelMap.setRun", () => {
  it("labels a run that crosses two section boundaries, counting only new PFNs", () => {
    const m = new PfnLabelMap();
    m.set(1023, "old");
    m.setRun(1000, 2100, "run");
    expect(m.size).toBe(2100);
    expect(m.get(999)).toBeUndefined();
    expect(m.get(1000)).toBe("run");
    expect(m.get(1023)).toBe("run");
    expect(m.get(2048)).toBe("run");
    expect(m.get(3099)).toBe("run");
    expect(m.get(3100)).toBeUndefined();
    m.setRun(5, 0, "none");
    expect(m.size).toBe(2100);
  });

  test.prop([
    fc.array(
      fc.tuple(
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.constantFrom("a", "b", "c"),
      ),
      {
        maxLength: 8,
      },
    ),
  ])("agrees with one set per PFN", (runs) => {
    const bulk = new PfnLabelMap();
    const single = new PfnLabelMap();
    for (const [pfn, n, label] of runs) {
      bulk.setRun(pfn, n, label);
      for (let i = 0; i < n; i++) single.set(pfn + i, label);
    }
    expect(bulk.size).toBe(single.size);
    expect([...bulk.entries()]).toEqual([...single.entries()]);
  });
});
