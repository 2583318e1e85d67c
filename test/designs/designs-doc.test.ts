/**
 * docs/DESIGNS.md is generated (src/cli/designs-doc.ts, `npm run designs`; docs/spec/02-kapi.md 2.7):
 * this test regenerates it from the runs it shows and fails when the committed page is stale. It also
 * checks that the page shows its reproduction commands with shipped scenario files only, carries no
 * code-size figures and states the caveats.
 */
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { COMPARE_CAVEATS } from "../../src/cli/compare.js";
import { DOC_RUNS, generateDesignsDoc } from "../../src/cli/designs-doc.js";

const page = readFileSync("docs/DESIGNS.md", "utf8");

describe("docs/DESIGNS.md", () => {
  it("is what `npm run designs` generates from the code as it stands (run it when this fails)", () => {
    const fresh = generateDesignsDoc();
    const a = page.split("\n");
    const b = fresh.split("\n");
    const first = a.findIndex((l, i) => l !== b[i]);
    expect(
      first === -1 && a.length === b.length
        ? null
        : { line: first + 1, committed: a[first], generated: b[first] },
    ).toBeNull();
  }, 240_000);

  it("reproduces with shipped scenario files and says the commands", () => {
    for (const r of Object.values(DOC_RUNS)) {
      if (r.file !== null) expect(existsSync(r.file), r.file).toBe(true);
    }
    expect(page).not.toMatch(/\/tmp\//);
    for (const f of ["compare-no-clflush", "compare-delete-omits-page", "compare-interrupts"])
      expect(page).toContain(`tdxpa compare scenarios/${f}.yaml`);
  });

  it("has no code-size row and every caveat", () => {
    expect(page).not.toMatch(/lines of source|exported functions/);
    expect(page).toContain("+316/−456");
    for (const c of COMPARE_CAVEATS) expect(page).toContain(c);
  });
});
