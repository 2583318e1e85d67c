/**
 * The building blocks of the scenario definition (`schema-def.ts`): schemas that carry their message in
 * the project's format (`expected WHAT, got VALUE`), the custom checks (u64, status, register value)
 * with the JSON Schema each stands for, and the registries the JSON Schema generator reads.
 */
import * as v from "valibot";
import { describeValue } from "../common/errors.js";
import { LEAF, type LeafName, REG, STATUS, type StatusName } from "../common/status.js";
import { parseU64 } from "../common/u64.js";

/** Any valibot schema of this definition. */
export type Schema = v.GenericSchema;

/** A value as an error message quotes it (an integer beyond 2^53 arrives as a bigint: as written). */
export function shown(got: unknown): string {
  return typeof got === "bigint" ? String(got) : describeValue(got);
}

/** `expected WHAT, got INPUT` as a valibot message. */
export const expected =
  (what: string) =>
  (issue: { input: unknown }): string =>
    `expected ${what}, got ${shown(issue.input)}`;

/** What each schema expects, for the message of a missing key (valibot reports it on the object). */
export const EXPECTS = new WeakMap<Schema, string>();

export function expects<T extends Schema>(schema: T, what: string): T {
  EXPECTS.set(schema, what);
  return schema;
}

/** An integer in min..max. */
export function int(min: number, max: number) {
  const m = expected(`an integer in ${min}..${max}`);
  return expects(
    v.pipe(v.number(m), v.integer(m), v.minValue(min, m), v.maxValue(max, m)),
    `an integer in ${min}..${max}`,
  );
}

/** A number in min..max with `what` naming it. */
export function real(what: string) {
  const m = expected(what);
  return expects(v.pipe(v.number(m), v.minValue(0, m), v.maxValue(1, m)), what);
}

export const nonEmpty = () => {
  const m = expected("a non-empty string");
  return expects(v.pipe(v.string(m), v.minLength(1, m)), "a non-empty string");
};

export const bool = () => expects(v.boolean(expected("true or false")), "true or false");

export function oneOf<const T extends readonly [string, ...string[]]>(options: T) {
  const what = `one of ${options.join(", ")}`;
  return expects(v.picklist(options, expected(what)), what);
}

/**
 * A mapping with exactly the keys of `entries` (in the order the message lists them). A missing
 * required key reports what its entry expects, an unknown key the allowed keys.
 */
export function obj<const E extends v.ObjectEntries>(entries: E, notObject = "a mapping") {
  const keys = Object.keys(entries).join(", ");
  const strict = v.strictObject(entries, (issue) => {
    if (issue.expected === "never") return `expected one of the keys ${keys}, got ${shown(issue.input)}`;
    const key = issue.path?.[0]?.key;
    if (issue.expected?.startsWith('"') && typeof key === "string") {
      const entry = entries[key] as Schema;
      return MISSING.get(entry) ?? `expected ${EXPECTS.get(entry) ?? "a value"}, got undefined`;
    }
    return `expected ${notObject}, got ${shown(issue.input)}`;
  });
  // valibot's objects accept arrays; a scenario's mappings do not.
  const notArray = v.custom<never>(() => false, expected(notObject));
  const s = v.lazy((x) => (Array.isArray(x) ? notArray : strict));
  OBJECTS.set(s, strict);
  return Object.assign(s, { entries });
}

/** The object schema behind each {@link obj} (for the JSON Schema generator). */
export const OBJECTS = new WeakMap<Schema, Schema>();

/** The object schema an {@link obj} schema wraps, or undefined. */
export function objectOf(s: Schema): Schema | undefined {
  return OBJECTS.get(s);
}

/** Chooses the schema for an input (`pick`); the JSON Schema is `anyOf` the `alternatives`. */
export const CHOICES = new WeakMap<Schema, readonly Schema[]>();
export function choice(pick: (input: unknown) => Schema, alternatives: readonly Schema[]): Schema {
  // No file holds `undefined`; the JSON Schema converter asks the getter with it.
  const s = v.lazy((x) => (x === undefined ? alternatives[0]! : pick(x)));
  CHOICES.set(s, alternatives);
  return s;
}

/** The alternatives of a {@link choice} schema (for the JSON Schema generator), or undefined. */
export function choicesOf(s: Schema): readonly Schema[] | undefined {
  return CHOICES.get(s);
}

/** A schema that always fails with `what`. */
export const fails = (what: string) => v.custom<never>(() => false, expected(what));

export const isObj = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/** Custom checks, with the JSON Schema each stands for (the generator reads it). */
export const CUSTOM_JSON = new WeakMap<Schema, object>();
export function custom(check: (x: unknown) => string | null, json: object, what: string): Schema {
  const s = v.custom<unknown>(
    (x) => check(x) === null,
    (issue) => `expected ${check(issue.input)}, got ${shown(issue.input)}`,
  );
  CUSTOM_JSON.set(s, json);
  return expects(s, what);
}

/** The JSON Schema a custom check stands for, or undefined. */
export function customJsonOf(s: Schema): object | undefined {
  return CUSTOM_JSON.get(s);
}

export const U64_TEXT = 'a u64 as "0x…" or decimal';
/** What parseU64 (src/common/u64.ts) accepts as text; test/scenario/json-schema.test.ts compares them. */
export const U64_PATTERN = "^([0-9]{1,20}|0[xX][0-9a-fA-F_]{1,32})$";
export const U64_JSON = {
  anyOf: [
    { type: "string", pattern: U64_PATTERN },
    { type: "integer", minimum: 0 },
  ],
};

/** Why `x` is not a u64 of a scenario file, or null. */
export function u64Problem(x: unknown): string | null {
  if (typeof x === "number" && Number.isSafeInteger(x) && x >= 0) return null;
  if (typeof x === "bigint" && x >= 0n && x < 2n ** 64n) return null;
  if (typeof x !== "string") return U64_TEXT;
  try {
    parseU64(x);
    return null;
  } catch {
    return `${U64_TEXT} up to 2^64-1`;
  }
}

/** `TDX_NAME` with an optional `(REG)`: a status by name. */
export const STATUS_RE = /^(TDX_[A-Z0-9_]+)(?:\((R[A-Z0-9]+)\))?$/;

/** Why `x` is not a status (a name, a name with a register, or a u64), or null. */
export function statusProblem(x: unknown): string | null {
  if (typeof x === "string") {
    const m = STATUS_RE.exec(x);
    if (m !== null) {
      if (STATUS[m[1] as StatusName] === undefined)
        return `a status name (${Object.keys(STATUS).join(", ")})`;
      if (m[2] !== undefined && REG[m[2] as keyof typeof REG] === undefined)
        return "a register name such as RCX in parentheses";
      return null;
    }
  }
  return u64Problem(x);
}

/** `@name` or `@name[i]`: a reference to an earlier alloc or root step. */
export const REF_RE = /^@([A-Za-z_][\w-]*)(?:\[(\d+)\])?$/;

export function regValueProblem(x: unknown): string | null {
  if (typeof x === "string" && x.startsWith("@"))
    return REF_RE.test(x) ? null : "a reference @name or @name[i]";
  return u64Problem(x);
}

export const u64 = () => custom(u64Problem, U64_JSON, U64_TEXT);
export const status = () =>
  custom(
    statusProblem,
    {
      anyOf: [
        { type: "string", enum: Object.keys(STATUS) },
        { type: "string", pattern: STATUS_RE.source },
        ...U64_JSON.anyOf,
      ],
    },
    "a status",
  );
export const regValue = () =>
  custom(
    regValueProblem,
    { anyOf: [{ type: "string", pattern: REF_RE.source }, ...U64_JSON.anyOf] },
    U64_TEXT,
  );

/** Register names a scenario may set or expect (RAX carries the leaf and the status). */
export const REG_NAMES = (Object.keys(REG) as (keyof typeof REG)[]).filter((n) => n !== "RAX");
export const regs = (value: () => Schema) =>
  obj(Object.fromEntries(REG_NAMES.map((n) => [n, v.optional(value())])) as Record<string, Schema>);

export const LEAF_NAMES = Object.keys(LEAF) as [LeafName, ...LeafName[]];
export const note = v.optional(v.string());
export const U31 = 2 ** 31;
export const COUNT = 2 ** 40;

/** The message of a key that is missing from its mapping, where it is not `expected WHAT, got undefined`. */
export const MISSING = new WeakMap<Schema, string>();
