/**
 * docs/LIBRARY.md's examples are tested: every ```ts block is written out as a script, its imports of
 * `tdx-page-array` and `tdx-page-array/formats` pointed at src/index.ts and src/formats.ts (what the
 * package's `exports` map builds from), and run with tsx. A block passes when it exits 0; the blocks
 * check their own claims with node:assert.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DOC = readFileSync(join(ROOT, "docs/LIBRARY.md"), "utf8");
const dir = mkdtempSync(join(tmpdir(), "tdxpa-libdoc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The ```ts blocks of a Markdown text, with the heading they follow. */
function tsBlocks(md: string): { heading: string; code: string }[] {
  const out: { heading: string; code: string }[] = [];
  let heading = "";
  const re = /^(#{1,6} .*)$|^```ts\n([\s\S]*?)^```$/gm;
  for (const m of md.matchAll(re)) {
    if (m[1] !== undefined) heading = m[1].replace(/^#+ /, "");
    else out.push({ heading, code: m[2]! });
  }
  return out;
}

const blocks = tsBlocks(DOC);

describe("docs/LIBRARY.md", () => {
  it("has the examples the issue asks for", () => {
    const all = blocks.map((b) => b.code).join("\n");
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    for (const s of [
      "createMachine(",
      "extensionsBringUp(",
      "runScenario(",
      ".verdict",
      "chromeTrace(",
      "attachEvents(",
    ])
      expect(all).toContain(s);
  });

  it.each(blocks.map((b, i) => [i, b.heading, b.code] as const))("example %i (%s) runs", (i, _h, code) => {
    const file = join(dir, `example-${i}.ts`);
    writeFileSync(
      file,
      code
        .replaceAll('"tdx-page-array/formats"', JSON.stringify(join(ROOT, "src/formats.ts")))
        .replaceAll('"tdx-page-array"', JSON.stringify(join(ROOT, "src/index.ts"))),
    );
    const r = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: ROOT, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
