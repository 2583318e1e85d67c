/**
 * `tdxpa vectors [--out DIR] [--json] [--seed N]`: writes the test vectors of `src/vectors/generate.ts`
 * for other implementations (e.g. a kernel KUnit test): `DIR/tdx-page-array-vectors.json` and the C
 * header `DIR/tdx_page_array_vectors.h`. See docs/VECTORS.md.
 *
 * Files are written by the CLI's one output writer (output-file.ts, docs/FILES.md): both are first
 * written under random exclusive temporary names in DIR, then fsynced and renamed into place, and any
 * temporary file is removed on error or signal, so a failed run leaves no partial output (a failure
 * between the two renames can leave the JSON new and the header old; both say their seed).
 * DIR is created when missing. Any failure to write is a usage error: one line, exit 2.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseU64, u64ToNumber } from "../common/u64.js";
import {
  DEFAULT_SEED,
  generateVectors,
  HEADER_FILE,
  JSON_FILE,
  VECTORS_VERSION,
  vectorsHeader,
  vectorsJson,
} from "../vectors/generate.js";
import { KUNIT_FILE, kunitSuite } from "../vectors/kunit.js";
import {
  EXIT,
  jsonLine,
  type OptionSpec,
  oneLine,
  parseCommandArgs,
  type Subcommand,
  UsageError,
} from "./io.js";
import { type OutputFile, openOutput, resolveOutputPath } from "./output-file.js";

const OPTIONS: OptionSpec = {
  out: { type: "string", short: "o" },
  seed: { type: "string" },
  json: { type: "boolean" },
  kunit: { type: "boolean" },
};

const HELP = `Usage: tdxpa vectors [--out DIR] [--seed N] [--kunit] [--json]

Writes test vectors of the page-list formats (docs/spec/01-formats.md) and of the tdx_page_array
descriptor (docs/spec/02-kapi.md 2.1-2.2) for other implementations, e.g. a kernel KUnit test:

  DIR/${JSON_FILE}   every vector, u64 values as "0x" + 16 hex digits
  DIR/${HEADER_FILE}    the same as static const C arrays (uint64_t, 0x...ULL)

Format vectors are u64 operands, root-page entries and statuses with their expected decode
(fields; rule, spec ref and bits when invalid): the worked values of docs/spec/01-formats.md 1.5,
boundary values, every reserved bit of every layout, and seeded pseudo-random values.
Descriptor vectors are pages in, operands and root entries out, from tdx_page_array_create
run on a small simulated host. The same seed always gives byte-identical files.

Options:
  -o, --out DIR   output directory, created if missing (default: vectors)
  --kunit         also write DIR/${KUNIT_FILE}: a sample KUnit suite (kernel style) that runs
                  the descriptor vectors on pages the kernel allocates
  --seed N        seed of the random vectors, 0..4294967295, decimal or 0x hex (default: ${DEFAULT_SEED})
  --json          print a one-line JSON summary (paths, counts) instead of text
  -h, --help      show this help

Exit status: 0 written, 2 usage error (bad option or seed, output directory not writable).

Examples:
  tdxpa vectors                                  # writes vectors/${JSON_FILE} and .h
  tdxpa vectors --out /tmp/tdx --seed 42
  tdxpa vectors --out build/kunit --kunit --json
  cc -std=c11 -I vectors -o vectors_test test/c/vectors_test.c && ./vectors_test`;

/** The seed from `--seed`, or a usage error naming the text and the range. */
function parseSeed(text: string | undefined): number {
  if (text === undefined) return DEFAULT_SEED;
  const range = "0..4294967295 (decimal or 0x hex)";
  let n: number | null;
  try {
    const v = parseU64(text, "vectors.seed");
    n = u64ToNumber(v.lo, v.hi);
  } catch {
    throw new UsageError(`vectors: --seed ${JSON.stringify(text)} is not a number; allowed ${range}`);
  }
  if (n === null || n > 0xffff_ffff)
    throw new UsageError(`vectors: --seed ${text} is out of range; allowed ${range}`);
  return n;
}

/** The message of an fs error, one line, without Node's "ENOENT: " prefix repeated. */
function fsMessage(e: unknown): string {
  return oneLine(e instanceof Error ? e.message : String(e));
}

/**
 * `mkdir -p` one level at a time. Node 20's `mkdirSync(dir, { recursive: true })` never returns for a
 * path under /proc (it retries the ENOENT forever); a plain mkdirSync throws there, as it should.
 */
function makeDirs(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new Error("it exists and is not a directory");
    return;
  }
  const parent = dirname(dir);
  if (parent !== dir) makeDirs(parent);
  try {
    mkdirSync(dir);
  } catch (e) {
    if ((e as { code?: string }).code !== "EEXIST") throw e;
  }
}

/**
 * Writes every `[name, text]` into `dir` atomically: all to temporary names first, then renames.
 * On any failure the temporary files are removed and a {@link UsageError} names the path.
 */
export function writeFilesAtomically(dir: string, files: readonly (readonly [string, string])[]): string[] {
  try {
    makeDirs(dir);
  } catch (e) {
    throw new UsageError(`vectors: cannot create output directory ${dir}: ${fsMessage(e)}`);
  }
  const finals = files.map(([name]) => join(dir, name));
  // Every target is checked (regular file or new, symlinks resolved) before anything is written, so
  // one file is never replaced while the other is refused.
  const owner = { cmd: "vectors", option: "--out" } as const;
  for (const f of finals) resolveOutputPath(f, owner);
  const outs: OutputFile[] = [];
  try {
    for (const [i, [, text]] of files.entries()) {
      const o = openOutput(finals[i]!, owner);
      outs.push(o);
      o.write(text);
    }
    for (const o of outs) o.commit();
  } catch (e) {
    for (const o of outs) o.abort();
    throw e;
  }
  return finals;
}

/**
 * The package version, for the vectors' `generator` field: `../../package.json` from both
 * `src/cli/vectors.ts` and `dist/cli/vectors.js` (as `main.ts` finds it; not imported from there to
 * keep main → vectors one-way). "unknown" when unreadable: the version is informative only.
 */
function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    const v = (pkg as { version?: unknown }).version;
    return typeof v === "string" ? v : "unknown";
  } catch {
    return "unknown";
  }
}

/** The `vectors` subcommand. */
export const vectorsCommand: Subcommand = {
  name: "vectors",
  summary: "write test vectors (JSON and a C header) for other implementations, e.g. a KUnit test",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("vectors", args, OPTIONS);
    if (positionals.length > 0)
      throw new UsageError(`vectors: unexpected argument '${positionals[0]}'; see 'tdxpa vectors --help'`);
    const out = values.out;
    if (out === "") throw new UsageError("vectors: --out needs a directory");
    const dir = typeof out === "string" ? out : "vectors";
    const seed = parseSeed(values.seed as string | undefined);
    const set = generateVectors({ seed, generator: `tdxpa ${packageVersion()} vectors` });
    const files: [string, string][] = [
      [JSON_FILE, vectorsJson(set)],
      [HEADER_FILE, vectorsHeader(set)],
    ];
    if (values.kunit === true) files.push([KUNIT_FILE, kunitSuite(set)]);
    const [jsonPath, headerPath, kunitPath] = writeFilesAtomically(dir, files);
    const c = set.counts;
    if (values.json === true) {
      io.out(
        jsonLine({
          json: resolve(jsonPath!),
          header: resolve(headerPath!),
          kunit: kunitPath === undefined ? null : resolve(kunitPath),
          version: VECTORS_VERSION,
          seed,
          counts: c,
        }),
      );
    } else {
      io.out(
        `wrote ${jsonPath}${kunitPath === undefined ? " and" : ","} ${headerPath}${kunitPath === undefined ? "" : ` and ${kunitPath}`} (seed ${seed}): ${c.formats} format vectors ` +
          `(${c.valid} valid, ${c.invalid} invalid, ${c.random} random), ${c.statuses} status vectors, ` +
          `${c.descriptors} descriptor vectors (${c.descriptorPages} pages)`,
      );
    }
    return EXIT.OK;
  },
};
