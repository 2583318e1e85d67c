/**
 * Reads a scenario file (YAML or JSON, by extension; anything else is tried as YAML) and validates it.
 * Every problem becomes one UsageError line naming the file and, where it has one, the line and column
 * or the path inside the document. The file is read through the bounded reader (input-file.ts): regular
 * files and FIFOs only, at most 16 MiB, UTF-8 (docs/FILES.md); the format is docs/SCENARIOS.md. A bare
 * name such as `head-page-only` that is not a file in the current directory names a shipped scenario
 * (`scenarios/head-page-only.yaml` of this package), and `-` reads the scenario from standard input.
 */
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { LineCounter, parseDocument } from "yaml";
import { isTdxpaError } from "../common/errors.js";
import { DEFAULT_SCENARIO_DOC } from "../scenario/default.js";
import { parseScenario, type Scenario } from "../scenario/schema.js";
import { decodeUtf8, INPUT_LIMITS, readBoundedFile } from "./input-file.js";
import { type CliIo, oneLine, UsageError } from "./io.js";
import { parseStrictJson, StrictJsonError } from "./json-strict.js";

/** The package's shipped scenarios: `../../scenarios/` from both src/cli and dist/cli. */
const SHIPPED = new URL("../../scenarios/", import.meta.url);

/** Names of the shipped scenarios (file names without `.yaml`), sorted; empty when none are found. */
export function shippedScenarioNames(): string[] {
  try {
    return readdirSync(SHIPPED)
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => f.slice(0, -".yaml".length))
      .sort();
  } catch {
    return [];
  }
}

/**
 * The file a scenario argument names: the argument itself when it is a path that exists or looks like
 * one (it has a `/` or an extension); else the shipped scenario of that name when there is one.
 * @example resolveScenarioPath("head-page-only") // ".../scenarios/head-page-only.yaml"
 */
export function resolveScenarioPath(arg: string): string {
  if (existsSync(arg) || /[/\\]|\.(ya?ml|json)$/i.test(arg)) return arg;
  const shipped = fileURLToPath(new URL(`${arg}.yaml`, SHIPPED));
  if (/^[\w.-]+$/.test(arg) && existsSync(shipped)) return shipped;
  const names = shippedScenarioNames();
  throw new UsageError(
    `${arg}: cannot read scenario: no such file, and no shipped scenario of that name${names.length > 0 ? ` (shipped: ${names.join(", ")})` : ""}`,
  );
}

/**
 * Like {@link scenarioFromArgs}, and `-` reads the scenario (YAML or JSON) from standard input.
 * @example await scenarioFromArgsOrStdin("run", ["-"], io)
 */
export async function scenarioFromArgsOrStdin(
  cmd: string,
  positionals: readonly string[],
  io: CliIo,
): Promise<Scenario> {
  if (positionals.length === 1 && positionals[0] === "-")
    return parseScenarioText("<stdin>", await io.readStdin(), "yaml");
  return scenarioFromArgs(cmd, positionals);
}

/**
 * The scenario a subcommand was given: at most one file, or the default scenario when none.
 * @example scenarioFromArgs("run", positionals)
 */
export function scenarioFromArgs(cmd: string, positionals: readonly string[]): Scenario {
  if (positionals.length > 1) {
    throw new UsageError(
      `${cmd}: one scenario file at most, got ${positionals.length}; see 'tdxpa ${cmd} --help'`,
    );
  }
  const file = positionals[0];
  return file === undefined
    ? fromDoc("default scenario", DEFAULT_SCENARIO_DOC)
    : loadScenario(resolveScenarioPath(file));
}

/** Loads and validates `file` (`-` reads nothing here: see {@link parseScenarioText}). */
export function loadScenario(file: string): Scenario {
  const bytes = readBoundedFile(file, "scenario", INPUT_LIMITS.scenario);
  return parseScenarioText(file, decodeUtf8(bytes, file), file.endsWith(".json") ? "json" : "yaml");
}

/**
 * Parses scenario text the same way for YAML and JSON: duplicate keys are an error in both (JSON through
 * json-strict.ts, which is also far faster on large files), integers are read exactly (beyond 2^53 as
 * bigint, so a message quotes them as written), an alias bomb is refused. `source` names the file in
 * every message.
 */
export function parseScenarioText(source: string, text: string, syntax: "yaml" | "json"): Scenario {
  if (syntax === "json") {
    try {
      JSON.parse(text);
    } catch (e) {
      const msg = (e as Error).message;
      throw new UsageError(`${source}:${lineCol(text, msg)} bad JSON: ${oneLine(msg)}`);
    }
    let doc: unknown;
    try {
      doc = parseStrictJson(text);
    } catch (e) {
      if (!(e instanceof StrictJsonError)) throw e;
      throw new UsageError(`${source}:${e.line}:${e.col}: bad JSON: ${e.message}`);
    }
    return fromDoc(source, doc);
  }
  const what = "YAML";
  const lines = new LineCounter();
  const d = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
    intAsBigInt: true,
  });
  const err = d.errors[0];
  if (err !== undefined) {
    const pos = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
    throw new UsageError(
      `${source}:${pos ? `${pos.line}:${pos.col}:` : ""} bad ${what}: ${oneLine(err.message.split("\n")[0]!)}`,
    );
  }
  let doc: unknown;
  try {
    // Integers within 2^53 become numbers again; larger ones stay bigint and are refused or read exactly.
    doc = d.toJS({
      maxAliasCount: 100,
      reviver: (_k: unknown, v: unknown) =>
        typeof v === "bigint" && v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v,
    });
  } catch (e) {
    // yaml refuses an alias bomb ("billion laughs") here with a plain Error: a bad file, not a bug.
    throw new UsageError(`${source}: bad ${what}: ${oneLine((e as Error).message.split("\n")[0]!)}`);
  }
  return fromDoc(source, doc);
}

/**
 * `line:col:` of the offset a JSON.parse message names ("… at position 14"), or "" when it names none.
 * @example lineCol('{\n  "a": 1,\n  }', "Expected … at position 14") // "3:3:"
 */
function lineCol(text: string, message: string): string {
  const match = /at position (\d+)/.exec(message);
  if (match === null && !/end of JSON input/.test(message)) return "";
  const at = match === null ? text.length : Math.min(Number(match[1]), text.length);
  const before = text.slice(0, at);
  const line = before.split("\n").length;
  return `${line}:${at - before.lastIndexOf("\n")}:`;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Validates an already parsed document, naming `source` in errors. */
export function fromDoc(source: string, doc: unknown): Scenario {
  try {
    return parseScenario(doc);
  } catch (e) {
    if (isTdxpaError(e)) throw new UsageError(`${source}: ${e.message}`);
    throw e;
  }
}

/**
 * Runs `work` on a scenario from `source`; a typed library error it throws (a platform the machine
 * refuses, a bookkeeping limit) becomes one line naming the file, as validation errors do.
 */
export function inScenario<T>(source: string, work: () => T): T {
  try {
    return work();
  } catch (e) {
    if (isTdxpaError(e)) throw new UsageError(`${source}: ${e.message}`);
    throw e;
  }
}

/** The name messages use for the scenario of `positionals`: the file, or "default scenario". */
export function scenarioSource(positionals: readonly string[]): string {
  return positionals[0] ?? "default scenario";
}
