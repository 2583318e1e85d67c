#!/usr/bin/env node
// The tdxpa command: runs the CLI bundled into one file (`npm run build` writes it with
// scripts/build-cli-bundle.mjs; `npm ci` and `npm pack` run the build through the `prepare` script), so
// that starting it loads one module. When dist/ is missing it says so on one line and exits 2, never with
// a stack trace.
//
// Two V8 settings, made before the bundle is compiled (issue 15; measured with /usr/bin/time, user + system
// CPU, medians, docs/PERFORMANCE.md): the baseline compiler (Sparkplug) on, and optimisation (TurboFan) of a
// function only after about 4x the default interrupt budget of work in it. A `tdxpa run` lives a few hundred
// milliseconds, and TurboFan, compiling on helper threads, spent about a quarter of its CPU on functions the
// run then barely used: the default run went from 0.37-0.40 s to 0.30-0.31 s, the 1,048,576-page run from
// 1.20 s to 1.14 s, `tdxpa compare` from 5.5 s to 4.8 s. Only speed changes, never a result: these are
// compiler heuristics, and every output was compared byte for byte with and without them.
//
// The bundle is loaded from dist/cli/tdxpa.bundle.cjs with its V8 code cache (tdxpa.bundle.cjs.cache, made
// at build time by one default run: the bytecode of what a run compiles), which saves about 0.04 s of
// compiling per command. The cache is used only when it starts with the very source it was made from,
// wrapper included, compared byte for byte (V8 itself checks only the length; comparing 0.9 MB is a
// memcmp, where a SHA-256 of it needed node:crypto, about 4 ms of CPU to load, measured); V8 refuses it
// silently under another Node or other flags and compiles the source as usual. Without the .cjs bundle,
// the ES module dist/cli/tdxpa.bundle.js is imported instead.
//
// This file is CommonJS (bin/package.json says so): a CommonJS entry point does not start Node's ES module
// loader, about 6 ms of CPU of every command (measured with `process.cpuUsage` at exit, an entry
// requiring these six built-ins against the same as an ES module, 9 runs each, twice). The ES module
// bundle, the fallback, is loaded with import().
"use strict";
const { readFileSync, writeFileSync } = require("node:fs");
const { createRequire } = require("node:module");
const { dirname, join } = require("node:path");
const { pathToFileURL } = require("node:url");
const { setFlagsFromString } = require("node:v8");
const { Script } = require("node:vm");

setFlagsFromString("--sparkplug");
setFlagsFromString("--interrupt-budget=500000");

/** The CLI module from the CommonJS bundle and its code cache; null when that bundle is not there. */
function loadCommonJs() {
  const file = join(__dirname, "../dist/cli/tdxpa.bundle.cjs");
  let bytes;
  try {
    bytes = readFileSync(file);
  } catch {
    return null;
  }
  const head =
    '(function (exports, require, module, __filename, __dirname, __tdxpaImportMetaUrl) {"use strict";';
  const tail = "\n})";
  // The exact source the cache was made from, wrapper included, as bytes.
  const source = Buffer.concat([Buffer.from(head), bytes, Buffer.from(tail)]);
  const wrapped = source.toString("utf8");
  const writeTo = process.env.TDXPA_WRITE_CODE_CACHE;
  let cachedData;
  if (writeTo === undefined) {
    try {
      const c = readFileSync(`${file}.cache`);
      if (c.length > source.length && c.subarray(0, source.length).equals(source))
        cachedData = c.subarray(source.length);
    } catch {
      // No cache: compile the source.
    }
  }
  const script = new Script(wrapped, { filename: file, ...(cachedData === undefined ? {} : { cachedData }) });
  const module = { exports: {} };
  script.runInThisContext()(
    module.exports,
    createRequire(file),
    module,
    file,
    dirname(file),
    pathToFileURL(file).href,
  );
  if (writeTo !== undefined)
    process.on("exit", () => writeFileSync(writeTo, Buffer.concat([source, script.createCachedData()])));
  return module.exports;
}

/** One line on standard error and the exit status, never a stack trace. */
function cannotLoad(e) {
  const missing = e?.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("dist");
  process.stderr.write(
    missing
      ? "tdxpa: not built: dist/cli/tdxpa.bundle.js is missing; run 'npm run build' in the package directory\n"
      : `tdxpa: internal error: cannot load the CLI: ${String(e?.message ?? e).split("\n")[0]}\n`,
  );
  process.exit(missing ? 2 : 70);
}

let cli = null;
try {
  cli = loadCommonJs();
} catch (e) {
  cannotLoad(e);
}
if (cli !== null) cli.runFromProcess();
else
  import(pathToFileURL(join(__dirname, "../dist/cli/tdxpa.bundle.js")).href).then(
    (esm) => esm.runFromProcess(),
    cannotLoad,
  );
