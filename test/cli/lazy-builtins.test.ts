/**
 * The CLI bundle loads `node:child_process`, `node:net` and `node:crypto` only when a command calls into
 * them (scripts/build-cli-bundle.mjs, issue 15): `tdxpa run` loads none, `tdxpa report --out FILE` (a
 * temporary file with a random name, guarded by a child process) loads what it uses and writes its file.
 * Runs the built command with a preloaded script that prints which of the three Node loaded (skipped when
 * dist/ has no bundle).
 */
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const built = existsSync(join(ROOT, "dist/cli/tdxpa.bundle.cjs"));

let dir = "";
afterEach(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
  dir = "";
});

/** The built command with `args`; returns its exit status, output (stdout and stderr) and the lazily loaded built-ins it loaded. */
function loaded(args: readonly string[]): { status: number | null; stdout: string; builtins: string[] } {
  dir = mkdtempSync(join(tmpdir(), "tdxpa-lazy-"));
  const pre = join(dir, "pre.cjs");
  writeFileSync(
    pre,
    'process.on("exit", () => require("node:fs").writeFileSync(process.env.TDXPA_TEST_LOADED, ' +
      "JSON.stringify(process.moduleLoadList.filter((x) => /^NativeModule (crypto|child_process|net)$/.test(x)))));\n",
  );
  const out = join(dir, "loaded.json");
  // Output to files, not pipes: Node loads `net` for a piped stdout, whatever the command.
  const stdout = openSync(join(dir, "stdout"), "w");
  const r = spawnSync(process.execPath, ["-r", pre, join(ROOT, "bin/tdxpa.js"), ...args], {
    cwd: dir,
    stdio: ["ignore", stdout, stdout],
    env: { ...process.env, TDXPA_TEST_LOADED: out },
  });
  closeSync(stdout);
  const builtins = (JSON.parse(readFileSync(out, "utf8")) as string[]).map((x) => x.split(" ")[1]!).sort();
  return { status: r.status, stdout: readFileSync(join(dir, "stdout"), "utf8"), builtins };
}

describe.skipIf(!built)("built-ins the CLI loads on first use", () => {
  it("tdxpa run loads none of child_process, net and crypto", () => {
    const r = loaded(["run"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^result: clean \(exit 0\)$/m);
    expect(r.builtins).toEqual([]);
  });

  it("tdxpa report --out FILE loads crypto and child_process when it writes its file", () => {
    const r = loaded(["report", "--out", "r.html"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^report: r\.html /m);
    expect(readFileSync(join(dir, "r.html"), "utf8")).toMatch(/^<!doctype html>/i);
    // (and `net`, for the pipes of its child process)
    expect(r.builtins).toEqual(expect.arrayContaining(["child_process", "crypto"]));
  });
});
