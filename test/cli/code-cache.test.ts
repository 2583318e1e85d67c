/**
 * bin/tdxpa.js and the V8 code cache of the CommonJS bundle (scripts/build-cli-bundle.mjs): the cache is
 * used only for the source it was made from. V8 itself checks only the source's length, so a bundle
 * changed in place, same length, with the old cache beside it, must still run the new code; a cache that
 * does not fit is skipped without a word. Runs the built command (skipped when dist/ has no cache).
 */
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CJS = "dist/cli/tdxpa.bundle.cjs";
const built = existsSync(join(ROOT, `${CJS}.cache`));

let dir = "";
afterEach(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
  dir = "";
});

/** A copy of what the command needs; `edit` may change the bundle's text and the cache's bytes. */
function install(edit: (source: string, cache: Buffer) => [string, Buffer]): string {
  dir = mkdtempSync(join(tmpdir(), "tdxpa-cache-"));
  mkdirSync(join(dir, "bin"));
  mkdirSync(join(dir, "dist/cli"), { recursive: true });
  mkdirSync(join(dir, "scenarios"));
  copyFileSync(join(ROOT, "bin/tdxpa.js"), join(dir, "bin/tdxpa.js"));
  copyFileSync(join(ROOT, "bin/package.json"), join(dir, "bin/package.json"));
  copyFileSync(join(ROOT, "package.json"), join(dir, "package.json"));
  copyFileSync(join(ROOT, "scenarios/head-page-only.yaml"), join(dir, "scenarios/head-page-only.yaml"));
  const [source, cache] = edit(
    readFileSync(join(ROOT, CJS), "utf8"),
    readFileSync(join(ROOT, `${CJS}.cache`)),
  );
  writeFileSync(join(dir, CJS), source);
  writeFileSync(join(dir, `${CJS}.cache`), cache);
  return dir;
}

const run = (d: string) =>
  spawnSync(process.execPath, [join(d, "bin/tdxpa.js"), "run", "head-page-only"], {
    cwd: d,
    encoding: "utf8",
  });

describe.skipIf(!built)("the CLI's code cache", () => {
  it("with the cache it was built with, runs as the ES module bundle does", () => {
    const r = run(install((s, c) => [s, c]));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^result: findings, all expected \(exit 0\)$/m);
  });

  it("a bundle changed in place, same length, runs its new code, not the old cache's", () => {
    const r = run(
      install((s, c) => {
        // The run report's last line, as the bundle spells its template literal.
        const line = "`result: $" + "{r.verdict}";
        const changed = s.replace(line, line.replace("result", "RESULT"));
        expect(changed).not.toBe(s);
        expect(changed.length).toBe(s.length);
        return [changed, c];
      }),
    );
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^RESULT: findings, all expected \(exit 0\)$/m);
  });

  it("a damaged or foreign cache is skipped silently", () => {
    for (const cache of [Buffer.alloc(0), Buffer.from("not a cache"), Buffer.alloc(40_000, 7)]) {
      const r = run(install((s) => [s, cache]));
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^result: findings, all expected \(exit 0\)$/m);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
