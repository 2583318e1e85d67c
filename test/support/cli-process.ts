/**
 * `tdxpa` from the sources as a real process, for the few tests that need one (signals, another user, a
 * real standard input) and work without `npm run build`: {@link bundleCliFromSources} bundles
 * src/cli/main.ts with esbuild, as scripts/build-cli-bundle.mjs does, into one script that behaves as
 * `bin/tdxpa.js`. Spawning it costs a plain `node` start; `node --import tsx` compiled every source file
 * again in each process.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A bundled CLI: the script to run with `node`, and how to remove it. */
export interface CliBundle {
  readonly entry: string;
  dispose(): void;
}

/**
 * Bundles the CLI into a fresh directory two levels below the package root (under .vitest/, which git
 * ignores), so that the CLI's `new URL("../../…", import.meta.url)` paths (package.json, scenarios/,
 * dist/report/) name the same files as from src/cli/.
 */
export async function bundleCliFromSources(): Promise<CliBundle> {
  mkdirSync(join(ROOT, ".vitest"), { recursive: true });
  const dir = mkdtempSync(join(ROOT, ".vitest", "cli-"));
  chmodSync(dir, 0o755); // readable by the unprivileged user some tests run it as
  const entry = join(dir, "tdxpa.mjs");
  await build({
    stdin: {
      contents: 'import { runFromProcess } from "./src/cli/main.ts";\nrunFromProcess();\n',
      resolveDir: ROOT,
      sourcefile: "tdxpa-from-sources.ts",
      loader: "ts",
    },
    outfile: entry,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "silent",
    // yaml's Node build is CommonJS and requires Node built-ins: give the ESM bundle Node's `require`.
    banner: {
      js: 'import { createRequire as __tdxpaCreateRequire } from "node:module";\nconst require = __tdxpaCreateRequire(import.meta.url);',
    },
  });
  return { entry, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
