/**
 * `tdxpa encode <form> --option <number>…`: builds a page-list operand or an IOMMU_MT entry from its
 * fields (docs/spec/01-formats.md 1.1 and 1.2) and prints it as `0x` + 16 lowercase hex digits.
 *
 * Numbers are parsed with `parseU64` (hex or decimal, exact up to 2^64−1) and handed to the encoders of
 * `common/formats.ts`, which check every range and throw a typed error naming the value and the allowed
 * range; that message is what the user sees. The only range this file states itself is for a number
 * above 2^53−1, which cannot reach an encoder as a JS number without losing digits.
 */
import { rangeError } from "../common/errors.js";
import { FORMAT_KINDS, type FormatKind } from "../common/format-table.js";
import {
  encodeHpaArray,
  encodeHpaListInfo,
  encodeIommuMt,
  encodeIommuMtEntry,
  encodeListEntry,
  MAX_ENTRIES,
  MAX_NUM_PAGES,
} from "../common/formats.js";
import { parseU64, type U64, u64ToHex, u64ToNumber } from "../common/u64.js";
import { EXIT, jsonLine, type OptionSpec, parseCommandArgs, type Subcommand, UsageError } from "./io.js";

/** Allowed ranges, as the encoders word them, for numbers too large to pass to them. */
const HPA_RANGE = "a 4 KiB aligned address in 0..2^52-4096";
const COUNT_RANGE = `1..${MAX_ENTRIES}`;

/** A numeric option of a form: its name and the range quoted when the value exceeds 2^53−1. */
interface NumOption {
  readonly name: string;
  readonly meta: string;
  readonly range: string;
}

/** Reads options by name for one form; `need` fails with a usage error when the option is absent. */
interface Reader {
  /** The option's number, or undefined when it was not given. */
  get(name: string): number | undefined;
  /** The option's number; a usage error names the option when it was not given. */
  need(name: string): number;
}

/** One encodable form: its usage line, options and encoder. */
interface FormSpec {
  readonly usage: string;
  readonly summary: string;
  readonly options: readonly NumOption[];
  encode(r: Reader): U64;
}

/** A form with its name (the format kind). */
interface Form extends FormSpec {
  readonly name: FormatKind;
}

const opt = (name: string, meta: string, range: string): NumOption => ({ name, meta, range });

/** How to encode each kind of the format table (a new kind must add its row here). */
const FORM_SPECS: Readonly<Record<FormatKind, FormSpec>> = {
  "hpa-list-info": {
    usage: "--root <hpa> --count <1..512> [--first <i>]",
    summary: "HPA_LIST_INFO operand; --first defaults to 0 (the host always passes 0)",
    options: [opt("root", "hpa", HPA_RANGE), opt("count", "n", COUNT_RANGE), opt("first", "i", "0..count-1")],
    encode: (r) => {
      const first = r.get("first");
      const a = { rootHpa: r.need("root"), count: r.need("count") };
      return encodeHpaListInfo(first === undefined ? a : { ...a, firstEntry: first });
    },
  },
  "hpa-array": {
    usage: "--count <n> (--root <hpa> | --page <hpa>)",
    summary: "HPA_ARRAY_T operand; count 1 is singleton mode and takes --page, count 2..512 takes --root",
    options: [opt("count", "n", COUNT_RANGE), opt("root", "hpa", HPA_RANGE), opt("page", "hpa", HPA_RANGE)],
    encode: (r) => {
      const count = r.need("count");
      const root = r.get("root");
      const page = r.get("page");
      const where = "encode hpa-array";
      if (root !== undefined && page !== undefined) {
        throw new UsageError(
          `${where}: give --root <hpa> (count 2..512) or --page <hpa> (count 1), not both`,
        );
      }
      if (root === undefined && page === undefined) {
        throw new UsageError(`${where}: missing --root <hpa> (count 2..512) or --page <hpa> (count 1)`);
      }
      if (count === 1 && root !== undefined) {
        throw new UsageError(`${where}: --count 1 is singleton mode and takes --page <hpa>, not --root`);
      }
      if (count >= 2 && count <= MAX_ENTRIES && page !== undefined) {
        throw new UsageError(
          `${where}: --count ${count} takes --root <hpa> (the root page); --page is for --count 1`,
        );
      }
      return encodeHpaArray(root === undefined ? { count, pageHpa: page } : { count, rootHpa: root });
    },
  },
  "iommu-mt": {
    usage: "--root <hpa>",
    summary: "IOMMU_MT operand (the root page only; the module knows the count)",
    options: [opt("root", "hpa", HPA_RANGE)],
    encode: (r) => encodeIommuMt(r.need("root")),
  },
  "iommu-mt-entry": {
    usage: "--hpa <hpa> --pages <n>",
    summary: `IOMMU_MT root-page entry; --pages 1 (order-0 page) or a power of two in 2..${MAX_NUM_PAGES}, HPA aligned to it`,
    options: [opt("hpa", "hpa", HPA_RANGE), opt("pages", "n", `1 or a power of two in 2..${MAX_NUM_PAGES}`)],
    encode: (r) => encodeIommuMtEntry(r.need("hpa"), r.need("pages")),
  },
  "list-entry": {
    usage: "--hpa <hpa>",
    summary: "HPA_LIST_INFO / HPA_ARRAY_T root-page entry: the page's HPA, everything else zero",
    options: [opt("hpa", "hpa", HPA_RANGE)],
    encode: (r) => encodeListEntry(r.need("hpa")),
  },
};

/** The forms `encode` knows, in the order help lists them (the format table's). */
const FORMS: readonly Form[] = FORMAT_KINDS.map((name) => ({ name, ...FORM_SPECS[name] }));

const FORM_NAMES = FORMS.map((f) => f.name).join(", ");

/** Every option any form takes, plus --json, for `util.parseArgs` (`--help` is handled by the dispatcher). */
const OPTIONS: OptionSpec = {
  json: { type: "boolean" },
  ...Object.fromEntries(FORMS.flatMap((f) => f.options.map((o) => [o.name, { type: "string" as const }]))),
};

/** A {@link Reader} over parsed option values for `form`. */
function reader(form: Form, values: Record<string, string | boolean | undefined>): Reader {
  const get = (name: string): number | undefined => {
    const o = form.options.find((x) => x.name === name);
    const text = values[name];
    if (o === undefined || typeof text !== "string") return undefined;
    const label = `${form.name}.${name}`;
    const v = parseU64(text, label);
    const n = u64ToNumber(v.lo, v.hi);
    if (n === null) throw rangeError(label, text, o.range);
    return n;
  };
  const need = (name: string): number => {
    const n = get(name);
    if (n !== undefined) return n;
    const meta = form.options.find((x) => x.name === name)?.meta ?? "value";
    throw new UsageError(
      `encode ${form.name}: missing --${name} <${meta}>; usage: tdxpa encode ${form.name} ${form.usage}`,
    );
  };
  return { get, need };
}

const HELP = `Usage: tdxpa encode <form> <options> [--json]

Builds a 64-bit value from its fields (docs/spec/01-formats.md 1.1, 1.2) and prints it as
"0x" + 16 lowercase hex digits.

Forms:
${FORMS.map((f) => `  tdxpa encode ${f.name} ${f.usage}\n      ${f.summary}`).join("\n")}

Numbers: 0x hex (underscores allowed) or decimal. An HPA must be 4 KiB aligned and
below 2^52; a count is 1..512.

Options:
  --json          print {"kind": "<form>", "value": "0x..."} instead of the bare value
  -h, --help      show this help

Exit status: 0 encoded, 2 usage error (unknown form, missing or out-of-range input).

Examples:
  tdxpa encode hpa-list-info --root 0x12345000 --count 512     # 0xff80000012345000
  tdxpa encode hpa-array --count 3 --root 0x100000             # 0x0100000000100000
  tdxpa encode hpa-array --count 1 --page 0x76543000           # 0x0000000076543000
  tdxpa encode iommu-mt-entry --hpa 0x20000000 --pages 2 --json`;

/** The `encode` subcommand. */
export const encodeCommand: Subcommand = {
  name: "encode",
  summary: "encode an HPA_LIST_INFO, HPA_ARRAY_T or IOMMU_MT operand or a root-page entry from its fields",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("encode", args, OPTIONS);
    const [formName, ...extra] = positionals;
    if (formName === undefined) throw new UsageError(`encode: missing <form>; forms: ${FORM_NAMES}`);
    const form = FORMS.find((f) => f.name === formName);
    if (form === undefined) throw new UsageError(`encode: unknown form '${formName}'; forms: ${FORM_NAMES}`);
    if (extra.length > 0) throw new UsageError(`encode ${form.name}: unexpected argument '${extra[0]}'`);
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined || name === "json") continue;
      if (!form.options.some((o) => o.name === name)) {
        throw new UsageError(
          `encode ${form.name}: --${name} does not apply; usage: tdxpa encode ${form.name} ${form.usage}`,
        );
      }
    }
    const v = form.encode(reader(form, values));
    const hex = u64ToHex(v.lo, v.hi);
    io.out(values.json === true ? jsonLine({ kind: form.name, value: hex }) : hex);
    return EXIT.OK;
  },
};
