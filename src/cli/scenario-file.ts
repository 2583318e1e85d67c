/**
 * Reads a scenario file (YAML or JSON, by extension; anything else is tried as YAML) and validates it.
 * Every problem becomes one UsageError line naming the file and, where it has one, the line and column
 * or the path inside the document. A bare name such as `head-page-only` that is not a file in the
 * current directory names a shipped scenario (`scenarios/head-page-only.yaml` of this package), and `-`
 * reads the scenario from standard input.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseDocument } from "yaml";
import { isTdxpaError } from "../common/errors.js";
import { DEFAULT_SCENARIO_DOC } from "../scenario/default.js";
import { parseScenario, type Scenario } from "../scenario/schema.js";
import { type CliIo, UsageError } from "./io.js";

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
    return parseScenarioText("<stdin>", await io.readStdin(), false);
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

/** Loads and validates `file`. */
export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory"
          : code === "EACCES"
            ? "permission denied"
            : (e as Error).message;
    throw new UsageError(`${file}: cannot read scenario: ${why}`);
  }
  return parseScenarioText(file, text, file.endsWith(".json"));
}

/** Parses and validates scenario `text` (JSON when `json`, else YAML, which also reads JSON), naming `file`. */
export function parseScenarioText(file: string, text: string, json: boolean): Scenario {
  let doc: unknown;
  if (json) {
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`${file}: bad JSON: ${(e as Error).message.split("\n")[0]}`);
    }
  } else {
    const d = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
    const err = d.errors[0];
    if (err !== undefined) {
      const pos = err.linePos?.[0];
      throw new UsageError(
        `${file}:${pos ? `${pos.line}:${pos.col}:` : ""} bad YAML: ${err.message.split("\n")[0]}`,
      );
    }
    try {
      doc = d.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // yaml refuses an alias bomb ("billion laughs") here with a plain Error: a bad file, not a bug.
      throw new UsageError(`${file}: bad YAML: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  return fromDoc(file, doc);
}

/** Validates an already parsed document, naming `source` in errors. */
export function fromDoc(source: string, doc: unknown): Scenario {
  try {
    return parseScenario(doc);
  } catch (e) {
    if (isTdxpaError(e)) throw new UsageError(`${source}: ${e.message}`);
    throw e;
  }
}
