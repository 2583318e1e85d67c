/**
 * The size limits of issue #11, checked by scripts/sizes.mjs (`npm run sizes`): no function in src/ over
 * 150 lines, no file over 600. The script runs as a process (it is the same script `npm run sizes` runs),
 * on src/ and on a directory written here that sits exactly at and one line over each limit.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCRIPT = join(ROOT, "scripts/sizes.mjs");

/**
 * What may be over a limit while it is being fixed, with the reason. Nothing else: a new entry needs a
 * reason naming its issue, and an entry that is no longer over fails the test until it is removed.
 */
const KNOWN: Readonly<Record<string, string>> = {};

interface Sizes {
  readonly limits: { functionLines: number; fileLines: number };
  readonly files: { file: string; lines: number }[];
  readonly functions: { file: string; name: string; line: number; lines: number }[];
  readonly over: string[];
}

function sizes(...args: string[]): { status: number | null; stderr: string; out: Sizes | null } {
  const r = spawnSync(process.execPath, [SCRIPT, "--json", ...args], { cwd: ROOT, encoding: "utf8" });
  return {
    status: r.status,
    stderr: r.stderr,
    out: r.stdout === "" ? null : (JSON.parse(r.stdout) as Sizes),
  };
}

const dir = mkdtempSync(join(tmpdir(), "tdxpa-sizes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The lines of a function-like block of exactly `lines` lines: `head`, filler statements, `tail`. */
const block = (head: string, lines: number, tail = "}") => [
  head,
  ...Array(lines - 2).fill("  void 0;"),
  tail,
];

/** Writes `files` (name → lines) into a fresh folder of the scratch directory; returns its path. */
function tree(name: string, files: Record<string, string[]>): string {
  const d = join(dir, name);
  mkdirSync(d);
  for (const [f, lines] of Object.entries(files)) writeFileSync(join(d, f), `${lines.join("\n")}\n`);
  return d;
}

describe("scripts/sizes.mjs on src/", () => {
  it("finds no function over 150 lines and no file over 600 lines but the known exceptions", () => {
    const r = sizes();
    expect(r.stderr).toBe("");
    const out = r.out!;
    expect(out.limits).toEqual({ functionLines: 150, fileLines: 600 });
    const unknown = out.over.filter((o) => !Object.keys(KNOWN).some((k) => o.startsWith(`${k}:`)));
    expect(unknown).toEqual([]);
    for (const k of Object.keys(KNOWN))
      expect(
        out.over.some((o) => o.startsWith(`${k}:`)),
        `${k} is within the limits now: remove it from KNOWN`,
      ).toBe(true);
    // It measured the whole tree, and kunitSuite (a table of sections since #11) is short.
    expect(out.files.length).toBeGreaterThan(100);
    expect(out.functions.find((f) => f.name === "kunitSuite")?.lines).toBeLessThanOrEqual(10);
    expect(r.status).toBe(out.over.length === 0 ? 0 : 1);
  });
});

describe("scripts/sizes.mjs at its limits", () => {
  it("passes a 150-line function, method and arrow function, and a 600-line file", () => {
    const fn = block("export function atLimit(): void {", 150);
    const cls = ["export class Small {", ...block("  method(): void {", 150, "  }"), "}"];
    const arrow = block("export const arrow = (): void => {", 150, "};");
    const pad = Array.from({ length: 600 - fn.length }, (_, i) => `export const x${i} = ${i};`);
    const d = tree("at", { "fn.ts": [...fn, ...pad], "cls.ts": cls, "arrow.ts": arrow });
    const r = sizes(d);
    expect(r.stderr).toBe("");
    expect(r.out!.over).toEqual([]);
    expect(r.out!.files.map((f) => f.lines).sort()).toEqual([150, 152, 600]);
    expect(r.out!.functions.map((f) => [f.name, f.lines]).sort()).toEqual([
      ["Small.method", 150],
      ["arrow", 150],
      ["atLimit", 150],
    ]);
    expect(r.status).toBe(0);
  });

  it("fails on a 151-line function, method or arrow function and a 601-line file, naming each", () => {
    const d = tree("over", {
      "fn.ts": block("export function overLimit(): void {", 151),
      "cls.ts": ["export class Big {", ...block("  method(): void {", 151, "  }"), "}"],
      "arrow.ts": [
        "// a comment line is not part of the function",
        ...block("export const arrow = () => {", 151, "};"),
      ],
      "long.ts": Array.from({ length: 601 }, (_, i) => `export const x${i} = ${i};`),
    });
    const r = sizes(d);
    expect(r.stderr).toBe("");
    const rel = (f: string) => relative(ROOT, join(d, f));
    expect(r.out!.over).toEqual([
      `${rel("long.ts")}: 601 lines (file)`,
      `${rel("arrow.ts")}:2 arrow: 151 lines (function)`,
      `${rel("cls.ts")}:2 Big.method: 151 lines (function)`,
      `${rel("fn.ts")}:1 overLimit: 151 lines (function)`,
    ]);
    expect(r.status).toBe(1);
  });

  it("says what is wrong on one line and exits 2 on bad usage", () => {
    for (const args of [["--top=-1"], ["--top"], ["--no-such-option"], [join(dir, "missing")], ["a", "b"]]) {
      const r = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: ROOT, encoding: "utf8" });
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^sizes: .+\n$/);
    }
  });
});
