/**
 * docs/LIBRARY.md's examples are tested: every ```ts block is written out as a script, its imports of
 * `tdx-page-array` and `tdx-page-array/formats` pointed at src/index.ts and src/formats.ts (what the
 * package's `exports` map builds from), bundled with esbuild into one script, and run by a plain `node`
 * process (as tsx would run it, without compiling every source file again in each process). A block passes
 * when it exits 0 with nothing on stderr; the blocks check their own claims with node:assert.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
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

  it.each(blocks.map((b, i) => [i, b.heading, b.code] as const))(
    "example %i (%s) runs",
    async (i, _h, code) => {
      const file = join(dir, `example-${i}.ts`);
      writeFileSync(
        file,
        code
          .replaceAll('"tdx-page-array/formats"', JSON.stringify(join(ROOT, "src/formats.ts")))
          .replaceAll('"tdx-page-array"', JSON.stringify(join(ROOT, "src/index.ts"))),
      );
      const bundle = join(dir, `example-${i}.mjs`);
      await build({
        entryPoints: [file],
        outfile: bundle,
        bundle: true,
        format: "esm",
        platform: "node",
        target: "node20",
        logLevel: "silent",
        // yaml's Node build is CommonJS and requires Node built-ins: give the ESM bundle Node's `require`.
        banner: {
          js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);',
        },
      });
      const r = spawnSync(process.execPath, [bundle], { cwd: ROOT, encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
    },
  );
});
