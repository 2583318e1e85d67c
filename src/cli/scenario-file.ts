/**
 * Reads a scenario file (YAML or JSON, by extension; anything else is tried as YAML) and validates it.
 * Every problem becomes one UsageError line naming the file and, where it has one, the line and column
 * or the path inside the document.
 */
import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { isTdxpaError } from "../common/errors.js";
import { DEFAULT_SCENARIO_DOC } from "../scenario/default.js";
import { parseScenario, type Scenario } from "../scenario/schema.js";
import { UsageError } from "./io.js";

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
  return file === undefined ? fromDoc("default scenario", DEFAULT_SCENARIO_DOC) : loadScenario(file);
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
  let doc: unknown;
  if (file.endsWith(".json")) {
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
