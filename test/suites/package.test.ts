/**
 * The published package (package.json `files`, `exports`, `bin`): packs the tarball the way `npm publish`
 * would, installs it offline into a fresh project, runs the installed `tdxpa` on a shipped scenario by
 * name, and imports the library and the `./formats` subpath from an ESM script. Also: the `./formats`
 * subpath bundles for a browser with no Node built-in, the bin runs the CLI from its one-file bundle
 * (dist/cli/tdxpa.bundle.js, `yaml` included) and says "not built" in one line (exit 2) when dist/ is missing.
 *
 * Needs dist/ (built by `npm ci` through the `prepare` script, or `npm run build`); packs with
 * `--ignore-scripts` so the test never rebuilds dist/ under the other test files. The `yaml` dependency
 * is installed from a tarball repacked from this checkout's node_modules: the npm cache holds yaml's
 * tarball but not a package document `npm install --offline` accepts.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FORMATS as SRC_FORMATS, LIST_FORMATS as SRC_LIST_FORMATS } from "../../src/common/format-table.js";
import { LEAF as SRC_LEAF } from "../../src/common/status.js";
import { LEAVES as SRC_LEAVES } from "../../src/module/leaves.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
let dir = "";
let tarball = "";
let files: string[] = [];
let project = "";

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist/index.js")) || !existsSync(join(ROOT, "dist/cli/tdxpa.bundle.js")))
    throw new Error("dist/ is not built: run 'npm run build' (npm ci does it through 'prepare')");
  dir = mkdtempSync(join(tmpdir(), "tdxpa-pack-"));
  const out = execFileSync(NPM, ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], {
    cwd: ROOT,
    encoding: "utf8",
  });
  const info = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  tarball = join(dir, info[0]!.filename);
  files = info[0]!.files.map((f) => f.path);
  execFileSync(NPM, ["pack", "--ignore-scripts", "--pack-destination", dir], {
    cwd: join(ROOT, "node_modules/yaml"),
    encoding: "utf8",
  });
  const yaml = readdirSync(dir).find((f) => f.startsWith("yaml-"))!;
  project = join(dir, "project");
  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }),
  );
  execFileSync(
    NPM,
    ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", join(dir, yaml), tarball],
    { cwd: project, encoding: "utf8" },
  );
}, 120_000);

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

describe("the packed tarball", () => {
  it("ships the library, its types, the CLI, scenarios, docs and LICENSE; not src, tests or source maps", () => {
    for (const f of [
      "LICENSE",
      "README.md",
      "bin/tdxpa.js",
      "bin/package.json",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/formats.js",
      "dist/formats.d.ts",
      "dist/cli/main.js",
      "dist/cli/tdxpa.bundle.js",
      "dist/report/page.bundle.js",
      "scenarios/head-page-only.yaml",
      "scenarios/default.yaml",
      "docs/LIBRARY.md",
      "docs/ASSUMPTIONS.md",
    ])
      expect(files, f).toContain(f);
    expect(files.filter((f) => /^(src|test|bench|fuzz)\//.test(f) || f.endsWith(".map"))).toEqual([]);
  });

  it("installed offline, `tdxpa run head-page-only` resolves the shipped scenario by name", () => {
    const bin = join(project, "node_modules/.bin/tdxpa");
    const r = spawnSync(bin, ["run", "head-page-only"], { cwd: project, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^scenario: head-page-only write-back$/m);
    expect(r.stdout).toMatch(/^result: findings, all expected \(exit 0\)$/m);
    const bad = spawnSync(bin, ["run", "no-such-scenario"], { cwd: project, encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/no shipped scenario of that name \(shipped: .*head-page-only/);
  });

  it("an ESM script imports the library and the ./formats subpath by package name", () => {
    writeFileSync(
      join(project, "use.mjs"),
      `import { createMachine, extensionsBringUp, checkConservation, runScenario, parseScenario } from "tdx-page-array";
import { decodeHpaListInfo, parseU64 } from "tdx-page-array/formats";
const m = createMachine();
const r = extensionsBringUp(m.kernel);
const c = checkConservation(m);
const v = parseU64("0xFF80000012345000");
const run = runScenario(parseScenario({ name: "x", steps: [{ flow: "extensions" }] }));
console.log(JSON.stringify({ ok: r.ok, owned: c.totals.moduleOwned, count: decodeHpaListInfo(v.lo, v.hi).fields.count, verdict: run.verdict }));
`,
    );
    const r = spawnSync(process.execPath, ["use.mjs"], { cwd: project, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, owned: 12_800, count: 512, verdict: "clean" });
  });

  it("the library exports the leaf table and the format table, the same rows as the source", () => {
    writeFileSync(
      join(project, "tables.mjs"),
      `import { FORMATS, LEAF, LEAVES, LIST_FORMATS } from "tdx-page-array";
console.log(JSON.stringify({
  leaves: Object.values(LEAVES).map((d) => [d.name, d.number, d.fails.length, typeof d.run]),
  numbersMatch: Object.values(LEAVES).every((d) => LEAF[d.name] === d.number),
  formats: Object.entries(FORMATS).map(([k, f]) => [k, f.cName]),
  listFormats: LIST_FORMATS,
}));
`,
    );
    const r = spawnSync(process.execPath, ["tables.mjs"], { cwd: project, encoding: "utf8" });
    expect(r.stderr).toBe("");
    const got = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(got.leaves).toEqual(
      Object.values(SRC_LEAVES).map((d) => [d.name, d.number, d.fails.length, "function"]),
    );
    expect(Object.keys(SRC_LEAVES).sort()).toEqual(Object.keys(SRC_LEAF).sort());
    expect(got.numbersMatch).toBe(true);
    expect(got.formats).toEqual(Object.entries(SRC_FORMATS).map(([k, f]) => [k, f.cName]));
    expect(got.listFormats).toEqual([...SRC_LIST_FORMATS]);
  });

  it("the library's types name the tables: LeafName, LeafDescriptor, LeafTable, FormatKind, ListFormat", () => {
    // Type-checked against the installed dist/index.d.ts; a line marked @ts-expect-error must fail.
    writeFileSync(
      join(project, "tables.ts"),
      `import {
  FORMATS,
  type FormatKind,
  LEAVES,
  type LeafDescriptor,
  type LeafName,
  type LeafTable,
  LIST_FORMATS,
  type ListFormat,
} from "tdx-page-array";
const name: LeafName = "TDH.EXT.MEM.ADD";
const d: LeafDescriptor<"TDH.EXT.MEM.ADD"> = LEAVES[name];
const table: LeafTable = LEAVES;
const kind: FormatKind = "hpa-list-info";
const list: ListFormat = LIST_FORMATS[0]!;
// @ts-expect-error not a leaf name
const wrongLeaf: LeafName = "TDH.NO.SUCH.LEAF";
// @ts-expect-error not a format kind
const wrongKind: FormatKind = "no-such-format";
export const used = [d.number, table, FORMATS[kind].title, list, wrongLeaf, wrongKind];
`,
    );
    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    const args = [
      "--noEmit",
      "--strict",
      "--skipLibCheck",
      "--module",
      "nodenext",
      "--moduleResolution",
      "nodenext",
    ];
    const r = spawnSync(process.execPath, [tsc, ...args, "--target", "es2022", "tables.ts"], {
      cwd: project,
      encoding: "utf8",
    });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

describe("the ./formats subpath", () => {
  it("bundles for a browser with no Node built-in and no dependency", async () => {
    const r = await build({
      entryPoints: [join(ROOT, "src/formats.ts")],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(r.metafile.inputs);
    expect(inputs.every((f) => f.startsWith("src/common/") || f === "src/formats.ts")).toBe(true);
    expect(inputs).toContain("src/common/formats.ts");
  });
});

describe("bin/tdxpa.js and the one-file CLI bundle", () => {
  it("needs nothing of dist/ but dist/cli/tdxpa.bundle.js, nor node_modules", () => {
    const d = mkdtempSync(join(tmpdir(), "tdxpa-bundle-"));
    try {
      mkdirSync(join(d, "bin"));
      mkdirSync(join(d, "dist/cli"), { recursive: true });
      copyFileSync(join(ROOT, "bin/tdxpa.js"), join(d, "bin/tdxpa.js"));
      copyFileSync(join(ROOT, "bin/package.json"), join(d, "bin/package.json"));
      copyFileSync(join(ROOT, "dist/cli/tdxpa.bundle.js"), join(d, "dist/cli/tdxpa.bundle.js"));
      copyFileSync(join(ROOT, "package.json"), join(d, "package.json"));
      mkdirSync(join(d, "scenarios"));
      copyFileSync(join(ROOT, "scenarios/head-page-only.yaml"), join(d, "scenarios/head-page-only.yaml"));
      const r = spawnSync(process.execPath, [join(d, "bin/tdxpa.js"), "run", "head-page-only"], {
        cwd: d,
        encoding: "utf8",
      });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^scenario: head-page-only write-back$/m);
      expect(r.stdout).toMatch(/^result: findings, all expected \(exit 0\)$/m);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe("bin/tdxpa.js without dist/", () => {
  it("prints one line naming the fix and exits 2, no stack trace", () => {
    const d = mkdtempSync(join(tmpdir(), "tdxpa-nobuild-"));
    try {
      mkdirSync(join(d, "bin"));
      copyFileSync(join(ROOT, "bin/tdxpa.js"), join(d, "bin/tdxpa.js"));
      copyFileSync(join(ROOT, "bin/package.json"), join(d, "bin/package.json"));
      writeFileSync(join(d, "package.json"), '{"type":"module"}');
      const r = spawnSync(process.execPath, [join(d, "bin/tdxpa.js"), "run"], { encoding: "utf8" });
      expect(r.status).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(
        "tdxpa: not built: dist/cli/tdxpa.bundle.js is missing; run 'npm run build' in the package directory\n",
      );
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
