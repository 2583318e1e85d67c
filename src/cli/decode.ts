/**
 * `tdxpa decode <kind> <value>…`: decodes u64 operands, root-page entries and statuses and reports which
 * rule of docs/spec/01-formats.md 1.4 a value breaks.
 *
 * All bit work is the library's: values are parsed with `parseU64`, decoded with the decoders of
 * `common/formats.ts` and `common/status.ts`, and printed with `u64ToHex`. Decoders are called without a
 * shared-page check, so rule 3 (the root page is a *shared* HPA) needs the module's memory map and is
 * not checked here; rules 1, 2 and 4 (the lone-entry form) are.
 *
 * JSON output (`--json`) is JSON Lines, one object per value in input order. u64 values (`raw`) and
 * addresses (`rootHpa`, `pageHpa`, `hpa`) are strings of `0x` + 16 lowercase hex digits, an address
 * being `u64ToHex` of its halves; counts, indices, `class`, `detail` and `operandId` are JSON numbers.
 */
import { escapeControls, isTdxpaError } from "../common/errors.js";
import { FORMAT_KINDS, type FormatKind, formatDef } from "../common/format-table.js";
import type { Violation } from "../common/formats.js";
import { decodeStatus, operandName } from "../common/status.js";
import { hpaToU64, parseU64, type U64, u64ToHex } from "../common/u64.js";
import { type CliIo, EXIT, jsonLine, parseCommandArgs, type Subcommand, style, UsageError } from "./io.js";

/** A JSON value as the decoder output carries it. */
type Json = string | number | boolean | null;

/**
 * One decoded field: its JSON key and value, and its label and text for the readable form. A row with
 * an empty key is shown in the readable form only; one with an empty label in JSON only.
 */
interface Row {
  readonly key: string;
  readonly json: Json;
  readonly label: string;
  readonly text: string;
}

/** A decoded value: its fields, the broken rule (or null), and an optional title for the readable form. */
interface Decoded {
  readonly rows: readonly Row[];
  readonly violation: Violation | null;
  /** Shown instead of "valid" in the readable header (a status's name). */
  readonly title?: string;
}

/** One decodable kind. */
interface Kind {
  readonly name: string;
  readonly summary: string;
  decode(v: U64): Decoded;
}

/** An HPA (a number below 2^52) as `0x` + 16 hex digits, the same form as a raw u64. */
function hpaHex(hpa: number): string {
  const v = hpaToU64(hpa);
  return u64ToHex(v.lo, v.hi);
}

const row = (key: string, json: Json, label: string, text = String(json)): Row => ({
  key,
  json,
  label,
  text,
});
const yesNo = (b: boolean): string => (b ? "yes" : "no");
const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, "0")}`;

/** A page-list kind of the format table as a decodable kind: its shown fields become the rows. */
function formatKind(kind: FormatKind): Kind {
  const def = formatDef(kind);
  return {
    name: kind,
    summary: def.summary,
    decode(v) {
      const { values, violation } = def.decode(v.lo, v.hi);
      const rows = def.shown.map((f) => {
        const x = values[f.key] ?? null;
        if (f.type === "hpa") {
          const h = typeof x === "number" ? hpaHex(x) : null;
          return row(f.key, h, f.label, h ?? f.noneText ?? "(none)");
        }
        if (f.type === "flag") return row(f.key, x, f.label, yesNo(x === true));
        return row(f.key, x, f.label, x === 0 && f.zeroText !== undefined ? f.zeroText : String(x));
      });
      return { violation, rows };
    },
  };
}

/** The kinds `decode` knows, in the order help lists them: the format table's, then statuses. */
const KINDS: readonly Kind[] = [
  ...FORMAT_KINDS.map(formatKind),
  {
    name: "status",
    summary:
      "a TDX completion status (RAX): name, error bit 63, class 47:40, detail 39:32, operand id 31:0 (errors only)",
    decode(v) {
      const s = decodeStatus(v.lo, v.hi);
      const operand = s.operandId === null ? null : operandName(s.operandId);
      const model = s.modelDefined ? " (model-defined value)" : "";
      return {
        violation: null,
        title: `${s.name ?? "unknown status"}${model}`,
        rows: [
          row("name", s.name, ""), // the readable header shows it
          row("error", s.error, "error", yesNo(s.error)),
          // Shown in the readable form only: the JSON keeps the fields the format defines.
          row("", null, "non-recoverable", yesNo(s.nonRecoverable)),
          row("", null, "fatal", yesNo(s.fatal)),
          row("", null, "host hint", yesNo(s.hostRecoverabilityHint)),
          row("class", s.class, "class", hex2(s.class)),
          row("detail", s.detail, "detail", hex2(s.detail)),
          // Bits 31:0 name an operand only on an error; on a success-class status they are leaf-specific.
          s.operandId === null
            ? row("info", s.info, "info (31:0)", `0x${s.info.toString(16)}`)
            : row(
                "operandId",
                s.operandId,
                "operand id",
                `${s.operandId}${operand === null ? "" : ` (${operand})`}`,
              ),
        ],
      };
    },
  },
];

const KIND_NAMES = KINDS.map((k) => k.name).join(", ");
const LABEL_WIDTH = 18;

/** The JSON object for one decoded value: raw, valid, the fields, then error, rule and ref if invalid. */
function toJson(raw: string, d: Decoded): Record<string, Json> {
  const o: Record<string, Json> = { raw, valid: d.violation === null };
  for (const r of d.rows) if (r.key !== "") o[r.key] = r.json;
  if (d.violation !== null) {
    o.error = d.violation.message;
    o.rule = d.violation.rule;
    o.ref = d.violation.ref;
  }
  return o;
}

/** The readable block for one decoded value: a header line, the broken rule if any, one line per field. */
function toText(io: CliIo, kind: string, raw: string, d: Decoded): string {
  const v = d.violation;
  const verdict =
    v !== null
      ? style(io, "red", `invalid: rule ${v.rule} (docs/spec/01-formats.md ${v.ref})`)
      : d.title !== undefined
        ? style(io, "bold", d.title)
        : style(io, "green", "valid");
  const lines = [`${style(io, "bold", raw)}  ${kind}  ${verdict}`];
  if (v !== null) lines.push(`  ${"error".padEnd(LABEL_WIDTH)}${v.message}`);
  for (const r of d.rows) if (r.label !== "") lines.push(`  ${r.label.padEnd(LABEL_WIDTH)}${r.text}`);
  return lines.join("\n");
}

/** The values to decode: the positionals, or one per non-blank line of standard input for a lone `-`. */
async function collectValues(values: string[], io: CliIo): Promise<string[]> {
  if (!values.includes("-")) return values;
  if (values.length !== 1) throw new UsageError("decode: '-' (read standard input) must be the only value");
  const lines = (await io.readStdin())
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "");
  if (lines.length === 0) throw new UsageError("decode: no values on standard input");
  return lines;
}

const HELP = `Usage: tdxpa decode <kind> <value>... [--json]
       tdxpa decode <kind> - [--json]     (one value per line from standard input)

Decodes 64-bit values and checks them against docs/spec/01-formats.md 1.4: reserved bits
clear (rule 1), FIRST_ENTRY <= LAST_ENTRY (rule 2), and for a lone IOMMU_MT entry
NUM_PAGES 0 or a power of two >= 2 with the block aligned (rule 4). Rule 3 (the
root page is a shared HPA) needs the module's memory map and is not checked.

Kinds:
${KINDS.map((k) => `  ${k.name.padEnd(16)}${k.summary}`).join("\n")}

Values: 0x hex (underscores allowed) or decimal, 0..2^64-1 (18446744073709551615).

Options:
  --json          one JSON object per value (JSON Lines, input order). raw values and
                  addresses are "0x" + 16 lowercase hex digits; counts, indices,
                  class, detail and operandId are numbers. An invalid value adds
                  "valid": false, "error", "rule" and "ref"; an unparsable one is
                  {"input", "valid": false, "error"}.
  -h, --help      show this help

Exit status: 0 every value valid, 1 any value invalid or unparsable, 2 usage error.

Examples:
  tdxpa decode hpa-list-info 0xFF80000012345000
  tdxpa decode hpa-array --json 0x0100000000100000 0x0000000076543000
  tdxpa decode iommu-mt-entry 0x0000000020000002
  tdxpa decode status 0xC000010000000001
  printf '0x1000\\n0x2002\\n' | tdxpa decode iommu-mt-entry --json -`;

/** The `decode` subcommand. */
export const decodeCommand: Subcommand = {
  name: "decode",
  summary:
    "decode u64 operands, root-page entries and statuses; check them against docs/spec/01-formats.md 1.4",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("decode", args, {
      json: { type: "boolean" },
    });
    const [kindName, ...rest] = positionals;
    if (kindName === undefined) throw new UsageError(`decode: missing <kind>; kinds: ${KIND_NAMES}`);
    const kind = KINDS.find((k) => k.name === kindName);
    if (kind === undefined) throw new UsageError(`decode: unknown kind '${kindName}'; kinds: ${KIND_NAMES}`);
    if (rest.length === 0) throw new UsageError(`decode ${kind.name}: no values; see 'tdxpa decode --help'`);
    const inputs = await collectValues(rest, io);
    const json = values.json === true;
    let status: number = EXIT.OK;
    inputs.forEach((input, i) => {
      let v: U64;
      try {
        v = parseU64(input, "value");
      } catch (e) {
        // parseU64 throws a TdxpaError naming the text and the range; anything else is a bug.
        if (!isTdxpaError(e)) throw e;
        status = EXIT.INVALID;
        if (json) io.out(jsonLine({ input, valid: false, error: e.message }));
        else
          io.out(
            `${i > 0 ? "\n" : ""}${escapeControls(input)}  ${kind.name}  ${style(io, "red", "unparsable")}: ${escapeControls(e.message)}`,
          );
        return;
      }
      const raw = u64ToHex(v.lo, v.hi);
      const d = kind.decode(v);
      if (d.violation !== null) status = EXIT.INVALID;
      if (json) io.out(jsonLine(toJson(raw, d)));
      else io.out(`${i > 0 ? "\n" : ""}${toText(io, kind.name, raw, d)}`);
    });
    return status;
  },
};
