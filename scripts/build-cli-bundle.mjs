#!/usr/bin/env node
/**
 * Builds the `tdxpa` command as one file (issue 15): bundles src/cli/main.ts and everything it imports,
 * `yaml` included, into dist/cli/tdxpa.bundle.js (ESM, Node 20), which bin/tdxpa.js loads, so starting the
 * CLI reads and compiles one module instead of about a hundred. The bundle sits in dist/cli/ beside the
 * tsc output of main.ts so that the CLI's `new URL("../../…", import.meta.url)` paths (package.json,
 * scenarios/, dist/report/page.bundle.js) resolve to the same files from either. A linked source map
 * (dist/cli/tdxpa.bundle.js.map, not packed) maps stack traces back to src/ for developers under
 * `node --enable-source-maps bin/tdxpa.js …`; users never see a stack (the CLI prints one line).
 *
 * It also writes the same code as a CommonJS bundle, dist/cli/tdxpa.bundle.cjs (with `import.meta.url`
 * passed in by bin/tdxpa.js), and a V8 code cache of it, dist/cli/tdxpa.bundle.cjs.cache: bin/tdxpa.js
 * compiles the .cjs with `vm.Script` and that cache (an ES module cannot be given one on Node 20), so the
 * bytecode of every function the default run compiles is read instead of compiled (measured: 0.31 to 0.27 s
 * CPU for `tdxpa run`, docs/PERFORMANCE.md). The cache is written by running `tdxpa run` once with
 * TDXPA_WRITE_CODE_CACHE set; it starts with the source it was made from (wrapper included, byte for byte),
 * and bin/tdxpa.js uses it only for that source (V8 itself compares only lengths). The ESM bundle stays the fallback when
 * the .cjs is missing. Run by `npm run build` after tsc.
 */
import { spawnSync } from "node:child_process";
import { rmSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * Built-in modules only some commands use (`tdxpa exec` spawns and listens, `--out FILE` names a
 * temporary file and guards it with a child process): each import of them becomes a module whose
 * functions load the built-in on their first call, so that `tdxpa run` does not load child_process, net
 * and crypto at start (about 6 ms of CPU of a 0.2 s run, measured with `process.cpuUsage` around the
 * requires). Only functions with a lower-case name are offered (a class must be called with `new`): an
 * import of anything else fails the build ("No matching export"), never the run.
 */
const LAZY_BUILTINS = /^node:(child_process|crypto|net)$/;
const lazyBuiltins = {
  name: "lazy-builtins",
  setup(b) {
    // The lazy module's own require is of the real built-in.
    b.onResolve({ filter: LAZY_BUILTINS }, (a) =>
      a.namespace === "lazy-builtin"
        ? { path: a.path, external: true }
        : { path: a.path, namespace: "lazy-builtin" },
    );
    b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, async (a) => {
      const mod = await import(a.path);
      const names = Object.keys(mod).filter((k) => /^[a-z]\w*$/.test(k) && typeof mod[k] === "function");
      const load = `let loaded;\nconst builtin = () => (loaded ??= require(${JSON.stringify(a.path)}));\n`;
      const fns = names.map((n) => `export function ${n}(...args) {\n  return builtin().${n}(...args);\n}`);
      return { contents: `${load}${fns.join("\n")}\n`, loader: "js" };
    });
  },
};
const outfile = `${root}dist/cli/tdxpa.bundle.js`;

/** What both bundles share: the CLI's entry, bundled for Node 20, built-ins loaded on first use. */
const common = {
  entryPoints: [`${root}src/cli/main.ts`],
  bundle: true,
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  sourcesContent: false,
  legalComments: "inline",
  charset: "utf8",
  logLevel: "warning",
  plugins: [lazyBuiltins],
};
await build({
  ...common,
  outfile,
  format: "esm",
  // yaml's Node build is CommonJS and requires node:process and node:buffer; an ESM bundle has no
  // `require`, so give it Node's own.
  banner: {
    js: 'import { createRequire as __tdxpaCreateRequire } from "node:module";\nconst require = __tdxpaCreateRequire(import.meta.url);',
  },
});
// The CommonJS copy for the code cache: no banner (a CommonJS module has `require`), and
// `import.meta.url` is a parameter of the function bin/tdxpa.js wraps it in.
const cjsfile = `${root}dist/cli/tdxpa.bundle.cjs`;
const cachefile = `${cjsfile}.cache`;
rmSync(cachefile, { force: true });
await build({
  ...common,
  outfile: cjsfile,
  format: "cjs",
  define: { "import.meta.url": "__tdxpaImportMetaUrl" },
});
// One default run compiles what a run needs; bin/tdxpa.js writes the cache at its exit.
const made = spawnSync(process.execPath, [`${root}bin/tdxpa.js`, "run"], {
  env: { ...process.env, TDXPA_WRITE_CODE_CACHE: cachefile },
  stdio: ["ignore", "ignore", "inherit"],
});
if (made.status !== 0) {
  console.error(`cli bundle: the run that writes the code cache exited ${made.status}`);
  process.exit(1);
}
// Quiet under `npm run build --silent` (as `npm start` and `prepare` run it): only the run's output shows.
if (process.env.npm_config_loglevel !== "silent")
  console.log(
    `cli bundle: ${outfile} (${statSync(outfile).size} bytes), ${cjsfile} and its code cache (${statSync(cachefile).size} bytes)`,
  );
