/**
 * PfnLabelMap.setRun (src/common/pfn-map.ts), what the host ledger uses to record an allocation of many
 * pages at once, against labelling the same PFNs one by one: same labels, same size, across sections.
 */
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { PfnLabelMap } from "../../src/common/pfn-map.js";
import { HostLedger } from "../../src/host/kernel.js";
import { toBe, toEqual } from "../support/assert.js";

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
    toBe(bulk.size, single.size);
    toEqual([...bulk.entries()], [...single.entries()]);
  });
});

describe("PfnLabelMap section lookups (the last answer is remembered, a missing section included)", () => {
  it("a miss near a PFN does not hide the section a later set creates there", () => {
    const m = new PfnLabelMap();
    expect(m.get(5)).toBeUndefined();
    expect(m.has(6)).toBe(false);
    expect(m.delete(7)).toBe(false);
    m.set(6, "a");
    expect(m.get(6)).toBe("a");
    expect(m.has(5)).toBe(false);
    expect(m.get(2000)).toBeUndefined();
    m.setRun(2000, 3, "b");
    expect([m.get(2000), m.get(2002), m.get(6), m.size]).toEqual(["b", "b", "a", 4]);
    expect(m.get(1023)).toBeUndefined();
    m.set(1023, "a");
    expect([...m.entries()]).toEqual([
      [6, "a"],
      [1023, "a"],
      [2000, "b"],
      [2001, "b"],
      [2002, "b"],
    ]);
  });

  it("labels answer in turn without mixing ids up (the last label is remembered)", () => {
    const m = new PfnLabelMap();
    m.set(1, "x").set(2, "y").set(3, "x").setRun(4, 2, "y").set(6, "z");
    expect([1, 2, 3, 4, 5, 6].map((p) => m.get(p))).toEqual(["x", "y", "x", "y", "y", "z"]);
  });
});

describe("PfnLabelMap.deleteRun and HostLedger.donateRun (one run instead of one call per page)", () => {
  const ops = fc.array(
    fc.tuple(
      fc.constantFrom("set", "delete"),
      fc.integer({ min: 0, max: 5000 }),
      fc.integer({ min: 0, max: 3000 }),
      fc.constantFrom("a", "b"),
    ),
    { maxLength: 8 },
  );

  test.prop([ops])("deleteRun agrees with one delete per PFN, and counts what it removed", (list) => {
    const bulk = new PfnLabelMap();
    const single = new PfnLabelMap();
    for (const [op, pfn, n, label] of list) {
      if (op === "set") {
        bulk.setRun(pfn, n, label);
        single.setRun(pfn, n, label);
        continue;
      }
      let had = 0;
      for (let i = 0; i < n; i++) if (single.delete(pfn + i)) had++;
      toBe(bulk.deleteRun(pfn, n), had);
    }
    toBe(bulk.size, single.size);
    toEqual([...bulk.entries()], [...single.entries()]);
  });

  test.prop([ops, fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 3000 })])(
    "donateRun leaves the ledger as donated.set page by page does",
    (list, pfn, n) => {
      const bulk = new HostLedger();
      const single = new HostLedger();
      for (const [op, p, m, label] of list) {
        // Pages the host holds ("set") or lent ("delete" marks lent here), in both ledgers alike.
        for (const l of [bulk, single]) (op === "set" ? l.held : l.lent).setRun(p, m, label);
      }
      bulk.donateRun(pfn, n, "pool");
      for (let i = 0; i < n; i++) single.donated.set(pfn + i, "pool");
      for (const part of ["held", "lent", "donated"] as const) {
        toBe(bulk[part].size, single[part].size, part);
        toEqual([...bulk[part].entries()], [...single[part].entries()], part);
      }
    },
  );
});

describe("PfnLabelMap.runLabel (the conservation check's question per run of module-owned pages)", () => {
  const runs = fc.array(
    fc.tuple(
      fc.integer({ min: 0, max: 3000 }),
      fc.integer({ min: 0, max: 1500 }),
      fc.constantFrom("a", "b", null),
    ),
    { maxLength: 6 },
  );
  test.prop([runs, fc.integer({ min: 0, max: 3500 }), fc.integer({ min: 1, max: 2100 })])(
    "is the label every PFN of the run carries, else null, as asked PFN by PFN",
    (list, pfn, n) => {
      const m = new PfnLabelMap();
      for (const [p, k, label] of list) {
        if (label === null) m.deleteRun(p, k);
        else m.setRun(p, k, label);
      }
      const first = m.get(pfn);
      let same = first !== undefined;
      for (let i = 1; i < n && same; i++) same = m.get(pfn + i) === first;
      toBe(m.runLabel(pfn, n), same ? first : null);
    },
  );

  it("tells a run that crosses a section, a missing section and a single odd page", () => {
    const m = new PfnLabelMap();
    m.setRun(1000, 100, "pool");
    expect(m.runLabel(1000, 100)).toBe("pool");
    expect(m.runLabel(1000, 101)).toBeNull();
    expect(m.runLabel(999, 2)).toBeNull();
    m.set(1050, "other");
    expect(m.runLabel(1000, 100)).toBeNull();
    expect(m.runLabel(1051, 49)).toBe("pool");
    expect(m.runLabel(5000, 3)).toBeNull();
    m.setRun(2040, 20, "pool");
    expect(m.runLabel(2040, 20)).toBe("pool");
    expect(m.runLabel(2040, 1100)).toBeNull();
  });
});
