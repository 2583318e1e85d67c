/**
 * The HTML report at scale (src/report/model.ts groups, src/report/map.ts layout): pages grouped by the
 * object they went to, in the order pool, IOMMU units, SPDM sessions, IDE streams, host pages; cells
 * still numbered in PFN order (what the frame, hit-testing and highlighting walk); the map's width
 * follows the columns it is given; the model carries the run's verdict for the badge.
 */
import { describe, expect, it } from "vitest";
import { loadScenario } from "../../src/cli/scenario-file.js";
import { buildReport } from "../../src/report/build.js";
import { CAT, categories, cellOf, GROUP_LABEL_ROWS, mapFrame, mapLayout } from "../../src/report/map.js";

const build = (name: string) =>
  buildReport(loadScenario(new URL(`../../scenarios/${name}.yaml`, import.meta.url).pathname));

describe("the page map grouped by object", () => {
  const { model } = build("default");

  it("groups: the pool, each IOMMU unit, each session and stream, then host pages", () => {
    expect(model.groups).toEqual([
      "extension memory pool",
      "IOMMU dmar0-socket0-pcie0",
      "IOMMU dmar1-socket0-pcie1",
      "IOMMU dmar3-socket1-pcie0",
      "IOMMU dmar4-socket1-pcie1",
      "SPDM session nvme0-ssd",
      "SPDM session nic0-100g",
      "SPDM session gpu0",
      "IDE stream 7 (nvme0-ssd)",
      "IDE stream 9 (nic0-100g)",
      "IDE stream 11 (gpu0)",
      "host pages (never handed to the module)",
    ]);
    expect(model.runGroups).toHaveLength(model.runs.length / 3);
    const pages = new Map<string, number>();
    for (let i = 0; i < model.runGroups.length; i++) {
      const g = model.groups[model.runGroups[i]!]!;
      pages.set(g, (pages.get(g) ?? 0) + model.runs[3 * i + 1]!);
    }
    expect(pages.get("extension memory pool")).toBe(12_800);
    expect(pages.get("IOMMU dmar0-socket0-pcie0")).toBe(20); // IOMMU_MT: 2 order-1 queue blocks + 16 pages
  });

  it("each group starts with its label rows; cells stay in PFN order and hit-test as before", () => {
    for (const cols of [128, 60]) {
      const l = mapLayout(model, undefined, cols);
      expect(l.groupRows.map((g) => g.label)).toEqual(model.groups);
      // One expect, at the first cell out of order if there is one (an expect per cell was most of this test).
      let i = 1;
      while (i < l.cellPfn.length && l.cellPfn[i]! > l.cellPfn[i - 1]!) i++;
      if (i < l.cellPfn.length) expect(l.cellPfn[i]!, `cell ${i}`).toBeGreaterThan(l.cellPfn[i - 1]!);
      const rowOf = (c: number) => Math.floor(l.cellSlot[c]! / cols);
      // Every cell lies between its group's label and the next group's label.
      for (let i = 0; i < model.runGroups.length; i++) {
        const g = model.runGroups[i]!;
        const c = cellOf(l, model.runs[3 * i]!);
        const from = l.groupRows[g]!.row + GROUP_LABEL_ROWS;
        const to = l.groupRows[g + 1]?.row ?? l.rows;
        expect(rowOf(c)).toBeGreaterThanOrEqual(from);
        expect(rowOf(c)).toBeLessThan(to);
      }
      const f = mapFrame(model, l, categories(model), model.steps.length);
      expect(f.pagesByCat.reduce((a, b) => a + b, 0)).toBe(l.pages);
      expect(f.cellCat[cellOf(l, model.runs[0]!)]).toBeGreaterThanOrEqual(CAT.MODULE0);
    }
  });

  it("the verdict travels to the page: clean here, findings for an expected hazard", () => {
    expect(model.run.verdict).toBe("clean");
    expect(build("no-clflush").model.run.verdict).toBe("findings, all expected");
  });
});
