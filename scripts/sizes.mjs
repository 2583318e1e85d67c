#!/usr/bin/env node
/**
 * The size check of issue #11 (`npm run sizes`): no function in src/ longer than 150 lines, no file
 * longer than 600 lines. Parses every `.ts` file under the directory with the TypeScript compiler API
 * (no type checking) and measures each function-like node with a body (declarations, methods,
 * constructors, accessors, function expressions and arrow functions) from its first token to the end of
 * its body, leading comments not counted; a nested function counts inside its outer one as well. A
 * file's length is its number of lines.
 *
 * Usage: node scripts/sizes.mjs [--json] [--top N] [DIR]   (DIR defaults to src/ of this checkout)
 *   prints the longest functions and files and every one over its limit; --json prints
 *   { limits, files, functions, over } instead, with paths relative to the current directory.
 * Exit status: 0 within the limits, 1 when something is over, 2 usage error.
 * test/suites/sizes.test.ts runs it on src/ and on a directory it writes that breaks each limit.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** The limits issue #11 sets (the model codebases have no function over ~160 lines). */
export const LIMITS = Object.freeze({ functionLines: 150, fileLines: 600 });

/** Every `.ts` file under `dir` (declaration files excluded), sorted. */
function tsFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Lines of a text, as `wc -l` counts them when the text ends with a newline. */
function lineCount(text) {
  const n = text.split("\n").length;
  return text.endsWith("\n") ? n - 1 : n;
}

/** The TypeScript compiler API, loaded once the arguments are good (it takes a second to load). */
let ts;

/** A readable name for a function-like node: `Class.method`, `name`, or what it is assigned to. */
function functionName(node, sf) {
  const own = node.name === undefined ? undefined : node.name.getText(sf);
  const cls =
    node.parent !== undefined && ts.isClassLike(node.parent) ? node.parent.name?.getText(sf) : undefined;
  if (ts.isConstructorDeclaration(node)) return `${cls ?? "(class)"}.constructor`;
  if (own !== undefined) return cls === undefined ? own : `${cls}.${own}`;
  const p = node.parent;
  if (
    p !== undefined &&
    (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p))
  )
    return p.name.getText(sf);
  const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  return `(anonymous, line ${line})`;
}

/**
 * Sizes of the files and functions under `dir`.
 * @returns {Promise<{ files: {file: string, lines: number}[], functions: {file: string, name: string, line: number, lines: number}[] }>}
 */
export async function measure(dir) {
  ts ??= (await import("typescript")).default;
  const files = [];
  const functions = [];
  for (const path of tsFiles(dir)) {
    const text = readFileSync(path, "utf8");
    const file = relative(process.cwd(), path);
    files.push({ file, lines: lineCount(text) });
    const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      if (ts.isFunctionLike(node) && node.body !== undefined) {
        const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
        const end = sf.getLineAndCharacterOfPosition(node.body.getEnd()).line;
        functions.push({ file, name: functionName(node, sf), line: start + 1, lines: end - start + 1 });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return { files, functions };
}

/** What is over {@link LIMITS}: `file: N lines` and `file:line name: N lines` entries. */
export function overLimits({ files, functions }) {
  return [
    ...files.filter((f) => f.lines > LIMITS.fileLines).map((f) => `${f.file}: ${f.lines} lines (file)`),
    ...functions
      .filter((f) => f.lines > LIMITS.functionLines)
      .map((f) => `${f.file}:${f.line} ${f.name}: ${f.lines} lines (function)`),
  ];
}

async function main() {
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: { json: { type: "boolean" }, top: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (e) {
    process.stderr.write(`sizes: ${String(e.message).split("\n")[0]}\n`);
    return 2;
  }
  if (args.values.help) {
    process.stdout.write("Usage: node scripts/sizes.mjs [--json] [--top N] [DIR]\n");
    return 0;
  }
  const top = args.values.top === undefined ? 10 : Number(args.values.top);
  if (!Number.isInteger(top) || top < 0 || top > 10_000) {
    process.stderr.write(
      `sizes: --top must be an integer in 0..10000, got ${JSON.stringify(args.values.top)}\n`,
    );
    return 2;
  }
  if (args.positionals.length > 1) {
    process.stderr.write(`sizes: one directory at most, got ${args.positionals.length}\n`);
    return 2;
  }
  const dir = resolve(args.positionals[0] ?? fileURLToPath(new URL("../src", import.meta.url)));
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    process.stderr.write(`sizes: not a directory: ${dir}\n`);
    return 2;
  }
  const m = await measure(dir);
  const over = overLimits(m);
  if (args.values.json) {
    process.stdout.write(`${JSON.stringify({ limits: LIMITS, ...m, over })}\n`);
    return over.length === 0 ? 0 : 1;
  }
  const byLines = (a, b) => b.lines - a.lines;
  const out = [`longest functions (limit ${LIMITS.functionLines} lines):`];
  for (const f of [...m.functions].sort(byLines).slice(0, top))
    out.push(`  ${String(f.lines).padStart(5)}  ${f.file}:${f.line} ${f.name}`);
  out.push(`longest files (limit ${LIMITS.fileLines} lines):`);
  for (const f of [...m.files].sort(byLines).slice(0, top))
    out.push(`  ${String(f.lines).padStart(5)}  ${f.file}`);
  out.push(
    `${m.files.length} files, ${m.functions.length} functions: ` +
      (over.length === 0 ? "all within the limits" : `${over.length} over the limits`),
  );
  for (const o of over) out.push(`  over: ${o}`);
  process.stdout.write(`${out.join("\n")}\n`);
  return over.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  process.exitCode = await main();
