/**
 * The scenario file format as ONE definition (valibot): parseScenario (`schema.ts`) validates with it,
 * and `npm run schema` generates the shipped JSON Schema (schema/scenario.schema.json) from it
 * ({@link scenarioJsonSchema} in `json-schema.ts`). docs/SCENARIOS.md documents every shape.
 *
 * Every schema here carries its message in the project's fixed format, `expected WHAT, got VALUE`;
 * `schema.ts` prefixes the path of the first issue (`steps[3].inject.leaf: expected …`) and throws it
 * as a typed `bad-format` error. Ranges are read from MODEL_LIMITS, POLICY_RANGES and
 * BEHAVIOUR_RANGES, names from FLOWS, LEAF, REG and STATUS: nothing is restated here.
 *
 * Custom checks (valibot's `custom`, documented where they are): a u64 (hex or decimal string up to
 * 2^64-1, or a non-negative integer), a status (`TDX_NAME`, `TDX_NAME(RCX)` or a u64) and a register
 * value (a u64 or `@name` / `@name[i]`). What needs the steps before it or another part of the file is
 * checked by `schema.ts` after this definition accepted the document: references and names against the
 * earlier alloc and root steps, a root's alloc size, `expect` on a call queued on another CPU,
 * `totalGiB` only with `base: uniform`, the platform's own rules (`validatePlatform`, src/hw/platform.ts)
 * and the model's limits (`limits.ts`).
 */
import * as v from "valibot";
import { describeValue } from "../common/errors.js";
import { PAGE_SIZE } from "../common/u64.js";
import { DEFAULT_POLICY, POLICY_RANGES } from "../host/kernel.js";
import type { HazardKind } from "../hw/cache.js";
import { DEVICE_ALLOWED, DEVICE_LIMITS } from "../hw/devices.js";
import {
  defaultPlatform,
  GIB,
  type IntRange,
  type ModuleMetadata,
  PLATFORM_ALLOWED,
  PLATFORM_LIMITS,
} from "../hw/platform.js";
import { BEHAVIOUR_RANGES, DEFAULT_BEHAVIOURS } from "../module/behaviours.js";
import { FLOW_NAMES } from "./flows.js";
import { MODEL_LIMITS } from "./limits.js";
import {
  bool,
  COUNT,
  choice,
  expected,
  expects,
  fails,
  int,
  isObj,
  LEAF_NAMES,
  MISSING,
  nonEmpty,
  note,
  obj,
  oneOf,
  real,
  regs,
  regValue,
  type Schema,
  shown,
  status,
  U31,
  u64,
} from "./schema-kit.js";

export {
  choicesOf,
  customJsonOf,
  int,
  objectOf,
  REF_RE,
  REG_NAMES,
  STATUS_RE,
  shown,
  statusProblem,
  U64_PATTERN,
  u64Problem,
} from "./schema-kit.js";

// --- module and host knobs --------------------------------------------------------------------------

/** The enumerated string knobs of behaviours and policy, and their values. */
export const KNOB_ENUMS = {
  moduleOwnedSharedPage: ["report", "reject", "ignore"],
  clflush: ["if-required", "always", "never"],
  writeBack: ["every-page", "head-page-only", "none"],
  extAddResume: ["returned", "original"],
  flushFlag: ["before-call", "on-success"],
  extLockScope: ["v2", "all-spdm"],
  segmentValid: ["always", "non-zero-segment"],
  poolGate: ["ext-required", "pool-count"],
  metadataIds: ["june", "rfc-v2"],
} as const satisfies Record<string, readonly [string, ...string[]]>;

/**
 * Knobs from their defaults: a boolean default is a boolean, a number an integer in its range (which
 * must exist), a string one of {@link KNOB_ENUMS} (or any string when it has none).
 */
function knobs(
  defaults: object,
  ranges: Readonly<Record<string, { readonly min: number; readonly max: number }>>,
) {
  const entries: Record<string, Schema> = {};
  for (const [k, d] of Object.entries(defaults)) {
    let s: Schema;
    if (typeof d === "boolean") s = bool();
    else if (typeof d === "number") {
      const r = ranges[k];
      if (r === undefined) throw new Error(`no range is defined for the numeric knob ${k}`);
      s = int(r.min, r.max);
    } else {
      const options = (KNOB_ENUMS as Record<string, readonly [string, ...string[]]>)[k];
      s =
        options === undefined
          ? v.string(expected("a string"))
          : v.picklist(options, (issue) =>
              typeof issue.input === "string"
                ? `expected one of ${options.join(", ")}, got ${shown(issue.input)}`
                : `expected a string, got ${shown(issue.input)}`,
            );
    }
    entries[k] = v.optional(s);
  }
  return obj(entries);
}

// --- interrupts --------------------------------------------------------------------------------------

const INTERRUPTS_TEXT = '"none", { every: k } or { random: p, seed: s }';
const interruptsNone = v.literal("none");
const interruptsEvery = obj({
  every: int(1, U31),
  random: v.optional(v.undefined()),
  seed: v.optional(v.unknown()),
});
const interruptsRandom = obj({
  every: v.optional(v.undefined()),
  random: real("a probability in 0..1"),
  seed: v.optional(int(0, 0xffff_ffff)),
});
const interruptsBoth = fails("either every or random");
const interruptsNeither = fails(INTERRUPTS_TEXT);
const interruptsKeys = obj({
  every: v.optional(v.unknown()),
  random: v.optional(v.unknown()),
  seed: v.optional(v.unknown()),
});

/** `"none"`, `{ every: k }` or `{ random: p, seed?: s }`. */
export const interruptsSchema = choice(
  (x) => {
    if (x === "none") return interruptsNone;
    if (!isObj(x) || Object.keys(x).some((k) => !["every", "random", "seed"].includes(k)))
      return interruptsKeys;
    if (x.every !== undefined) return x.random !== undefined ? interruptsBoth : interruptsEvery;
    if (x.random !== undefined) return interruptsRandom;
    return interruptsNeither;
  },
  [interruptsNone, interruptsEvery, interruptsRandom],
);

// --- steps -------------------------------------------------------------------------------------------

const HAZARD_KINDS: readonly HazardKind[] = [
  "dirty-host-lines-on-private",
  "private-lines-on-host-page",
  "host-access-to-private",
  "private-lines-left-at-end",
];
const hazardCounts = obj(Object.fromEntries(HAZARD_KINDS.map((k) => [k, v.optional(int(0, COUNT))])));
const hazardTotal = int(0, COUNT);

const stateExpect = obj({
  hazards: v.optional(
    choice((x) => (typeof x === "number" ? hazardTotal : hazardCounts), [hazardTotal, hazardCounts]),
  ),
  reports: v.optional(int(0, COUNT)),
  pages: v.optional(
    obj({
      free: v.optional(int(0, COUNT)),
      hostHeld: v.optional(int(0, COUNT)),
      moduleOwned: v.optional(int(0, COUNT)),
      stranded: v.optional(int(0, COUNT)),
    }),
  ),
  conservation: v.optional(oneOf(["ok", "fail"])),
  damagedPages: v.optional(int(0, COUNT)),
});

const injectStatus = obj({
  allocation: v.optional(v.unknown()),
  allocationTag: v.optional(v.unknown()),
  count: v.optional(v.unknown()),
  leaf: oneOf(LEAF_NAMES),
  nth: int(1, U31),
  status: status(),
});
const injectAllocation = obj({
  allocation: int(1, U31),
  allocationTag: v.optional(v.unknown()),
  count: v.optional(v.unknown()),
  leaf: v.optional(v.undefined()),
  nth: v.optional(v.unknown()),
  status: v.optional(v.unknown()),
});
const injectTag = obj({
  allocation: v.optional(v.undefined()),
  allocationTag: nonEmpty(),
  count: v.optional(int(1, U31)),
  leaf: v.optional(v.undefined()),
  nth: v.optional(v.unknown()),
  status: v.optional(v.unknown()),
});
const injectKeys = obj({
  allocation: v.optional(v.unknown()),
  allocationTag: v.optional(v.unknown()),
  count: v.optional(v.unknown()),
  leaf: v.optional(v.unknown()),
  nth: v.optional(v.unknown()),
  status: v.optional(v.unknown()),
});
const injectNone = fails("{ allocation: n }, { allocationTag: t, count? } or { leaf, nth, status }");

const inject = choice(
  (x) => {
    if (!isObj(x) || Object.keys(x).some((k) => !(k in injectKeys.entries))) return injectKeys;
    if (x.leaf !== undefined) return injectStatus;
    if (x.allocation !== undefined) return injectAllocation;
    if (x.allocationTag !== undefined) return injectTag;
    return injectNone;
  },
  [injectStatus, injectAllocation, injectTag],
);

/** The root page formats a root step can build (01-formats.md 1.2, 1.3, 1.4). */
export const ROOT_FORMATS = ["hpa-list-info", "hpa-array", "iommu-mt"] as const;

/** One schema per step kind, keyed by the key that names the kind; the first key found decides. */
export const STEP_SCHEMAS = {
  flow: obj({
    flow: oneOf(FLOW_NAMES as unknown as readonly [string, ...string[]]),
    expect: v.optional(
      obj({
        ok: v.optional(bool()),
        failedStatus: v.optional(nonEmpty()),
        stranded: v.optional(int(0, COUNT)),
      }),
    ),
    note,
  }),
  seamcall: obj({
    seamcall: oneOf(LEAF_NAMES),
    regs: v.optional(regs(regValue)),
    expect: v.optional(obj({ status: v.optional(status()), regs: v.optional(regs(u64)) })),
    note,
    cpu: v.optional(int(0, 63)),
    schedule: v.optional(
      obj({
        cpus: v.optional(int(2, 64)),
        seed: v.optional(int(0, 2 ** 32 - 1)),
        p: v.optional(real("a number in 0..1")),
      }),
    ),
  }),
  alloc: obj({
    alloc: expects(
      v.pipe(
        v.string(expected("a non-empty string")),
        v.minLength(1, expected("a non-empty string")),
        v.regex(/^[A-Za-z_][\w-]*$/, expected("a name of letters, digits, _ and -")),
      ),
      "a non-empty string",
    ),
    pages: v.optional(int(1, MODEL_LIMITS.pages)),
    order: v.optional(int(0, 10)),
    contiguous: v.optional(bool()),
    zero: v.optional(bool()),
    compound: v.optional(bool()),
    note,
  }),
  root: obj({ root: nonEmpty(), format: oneOf(ROOT_FORMATS), of: nonEmpty(), note }),
  inject: obj({ inject, note }),
  interrupts: obj({ interrupts: interruptsSchema, note }),
  evict: obj({ evict: expects(v.literal(true, expected("true")), "true"), note }),
  clflush: obj({ clflush: nonEmpty(), note }),
  join: obj({
    join: expects(v.literal(true, expected("true")), "true"),
    expect: v.optional(obj({ status: v.optional(status()), busyRetries: v.optional(int(0, U31)) })),
    note,
  }),
  expect: obj({ expect: stateExpect, note }),
} as const;

/** The step kinds as a file names them, in the order a step's key is looked for. */
export type StepKey = keyof typeof STEP_SCHEMAS;
export const STEP_KEYS = Object.keys(STEP_SCHEMAS) as StepKey[];

/** The key that names a step's kind, or undefined. */
export function stepKeyOf(x: Record<string, unknown>): StepKey | undefined {
  return STEP_KEYS.find((k) => k in x);
}

const stepNotMapping = fails(`a step mapping with one of ${STEP_KEYS.join(", ")}`);
const stepNoKind = v.custom<never>(
  () => false,
  (issue) =>
    `expected a step with one of the keys ${STEP_KEYS.join(", ")}, got ${shown(Object.keys(issue.input as object).join(", ") || "{}")}`,
);

const step = choice((x) => {
  if (!isObj(x)) return stepNotMapping;
  const k = stepKeyOf(x);
  return k === undefined ? stepNoKind : STEP_SCHEMAS[k];
}, Object.values(STEP_SCHEMAS));

const STEPS_TEXT = "a non-empty list of steps";
const steps = v.pipe(
  v.array(step, expected(STEPS_TEXT)),
  v.minLength(1, expected(STEPS_TEXT)),
  v.maxLength(MODEL_LIMITS.steps, expected(`at most ${MODEL_LIMITS.steps} steps (the model's limit)`)),
);

// --- platform ------------------------------------------------------------------------------------------

/** The largest `totalGiB` of a uniform platform (64 TiB). */
export const UNIFORM_MAX_GIB = 64 * 1024;

// Every platform shape, with validatePlatform's own messages (src/hw/platform.ts, src/hw/devices.ts:
// `PATH: VALUE is out of range; allowed WHAT` or `PATH: expected WHAT, got VALUE`), its limits and its
// texts read from PLATFORM_LIMITS / PLATFORM_ALLOWED / DEVICE_LIMITS / DEVICE_ALLOWED. What depends on
// another field or on the base platform (overlaps, a TDMR inside memory, reserved areas inside their
// TDMR, the module's range, KeyID bits against the shift, unique names and addresses, a device's root
// port) is left to validatePlatform after the merge, which also still checks every shape for library
// callers who build a Platform in code.

/** validatePlatform's rangeError wording (src/common/errors.ts), also for a missing key. */
function outOfRange<T extends Schema>(
  make: (m: (issue: { input: unknown }) => string) => T,
  allowed: string,
): T {
  const m = (issue: { input: unknown }) =>
    `${describeValue(issue.input)} is out of range; allowed ${allowed}`;
  const s = make(m);
  MISSING.set(s, m({ input: undefined }));
  return s;
}

/** validatePlatform's typeError wording, `expected WHAT, got VALUE` (as {@link expected}, but as it quotes). */
const plainly =
  (what: string) =>
  (issue: { input: unknown }): string =>
    `expected ${what}, got ${describeValue(issue.input)}`;

/** A platform integer in `r` (checkCountField / checkInt wording). */
const count = (r: IntRange) =>
  outOfRange(
    (m) => v.pipe(v.number(m), v.integer(m), v.minValue(r.min, m), v.maxValue(r.max, m)),
    `${r.min}..${r.max}`,
  );

const ADDRESS_LIMIT = 2 ** PLATFORM_LIMITS.addressBits;

/** An address: a multiple of `align` below 2^52 (checkRange). */
const address = (align: number, allowed: string) =>
  outOfRange(
    (m) =>
      v.pipe(
        v.number(m),
        v.safeInteger(m),
        v.minValue(0, m),
        v.multipleOf(align, m),
        v.maxValue(ADDRESS_LIMIT - align, m),
      ),
    allowed,
  );

/** A size: a positive multiple of `align` up to 2^52 (the end below 2^52 is validatePlatform's). */
const extent = (align: number) =>
  outOfRange(
    (m) =>
      v.pipe(
        v.number(m),
        v.safeInteger(m),
        v.minValue(align, m),
        v.multipleOf(align, m),
        v.maxValue(ADDRESS_LIMIT, m),
      ),
    PLATFORM_ALLOWED.size(align),
  );

/** `{ base, size }`, both multiples of `align`. */
const range = (align: number) =>
  obj({ base: address(align, PLATFORM_ALLOWED.base(align)), size: extent(align) }, PLATFORM_ALLOWED.range);

const pName = () =>
  expects(
    v.pipe(v.string(plainly(PLATFORM_ALLOWED.name)), v.minLength(1, plainly(PLATFORM_ALLOWED.name))),
    PLATFORM_ALLOWED.name,
  );
const pBool = () => expects(v.boolean(plainly(PLATFORM_ALLOWED.boolean)), PLATFORM_ALLOWED.boolean);
const pString = () => expects(v.string(plainly("a string")), "a string");

/** A list of `item` (non-empty when `what` says so). */
function list(item: Schema, what: string, nonEmptyList = false) {
  const m = plainly(what);
  return expects(nonEmptyList ? v.pipe(v.array(item, m), v.minLength(1, m)) : v.array(item, m), what);
}

const tdmr = obj(
  {
    base: address(GIB, PLATFORM_ALLOWED.base(GIB)),
    size: extent(GIB),
    reserved: outOfRange(
      (m) => v.pipe(v.array(range(PAGE_SIZE), m), v.maxLength(PLATFORM_LIMITS.tdmrReservedMax, m)),
      PLATFORM_ALLOWED.reserved,
    ),
  },
  PLATFORM_ALLOWED.range,
);

/**
 * KeyID bits up to 52 − shift, KeyIDs within 2^bits: the schema bounds them by the smallest shift, and
 * validatePlatform by the file's own (its message names the narrower range).
 */
const KEYID_BITS = { min: 1, max: PLATFORM_LIMITS.addressBits - PLATFORM_LIMITS.keyIdShift.min };
const KEYID = { min: 1, max: 2 ** KEYID_BITS.max - 1 };
const keyIds = obj(
  {
    shift: count(PLATFORM_LIMITS.keyIdShift),
    bits: count(KEYID_BITS),
    firstPrivate: count(KEYID),
    privateCount: count(KEYID),
    global: count(KEYID),
  },
  PLATFORM_ALLOWED.object,
);

const metadataFields: Record<string, Schema> = {};
for (const k of Object.keys(defaultPlatform().metadata) as (keyof ModuleMetadata)[]) {
  const r = (PLATFORM_LIMITS.metadata as Record<string, IntRange>)[k];
  let s: Schema;
  if (r !== undefined) s = count(r);
  else if (k === "TDX_FEATURES0_BITS")
    s = list(count(PLATFORM_LIMITS.featureBit), PLATFORM_ALLOWED.featureBits);
  else if (k === "fieldIds")
    s = outOfRange((m) => v.picklist(PLATFORM_LIMITS.fieldIds, m), PLATFORM_ALLOWED.fieldIds);
  else throw new Error(`no schema is defined for the metadata field ${k}`);
  metadataFields[k] = v.optional(v.pipe(s, v.description(`global metadata ${k}`)));
}

const iommu = obj(
  {
    name: pName(),
    regBase: address(PAGE_SIZE, PLATFORM_ALLOWED.regBase),
    tdxCapable: pBool(),
  },
  PLATFORM_ALLOWED.iommu,
);

const measurement = obj(
  {
    index: count(DEVICE_LIMITS.measurementIndex),
    seed: pString(),
    bytes: count(DEVICE_LIMITS.measurementBytes),
  },
  "{ index, seed, bytes }",
);

const device = obj(
  {
    name: pName(),
    requesterId: count(DEVICE_LIMITS.requesterId),
    segment: count(DEVICE_LIMITS.segment),
    rootPort: outOfRange((m) => v.string(m), "the name of a root port"),
    spdm: obj(
      {
        capabilities: count(DEVICE_LIMITS.capabilities),
        certChainSeed: pString(),
        certChainBytes: count(DEVICE_LIMITS.certChainBytes),
        measurements: outOfRange(
          (m) =>
            v.pipe(
              v.array(measurement, m),
              v.minLength(DEVICE_LIMITS.measurements.min, m),
              v.maxLength(DEVICE_LIMITS.measurements.max, m),
            ),
          DEVICE_ALLOWED.measurements,
        ),
      },
      DEVICE_ALLOWED.spdm,
    ),
  },
  DEVICE_ALLOWED.device,
);

const rootPort = obj(
  {
    name: pName(),
    streamSlots: count(DEVICE_LIMITS.streamSlots),
    devfn: v.optional(count(DEVICE_LIMITS.devfn)),
  },
  DEVICE_ALLOWED.rootPort,
);

/** An optional platform key with its description for editors. */
const described = (s: Schema, what: string) => v.optional(v.pipe(s, v.description(what)));

const platform = obj({
  base: v.optional(oneOf(["default", "uniform"])),
  totalGiB: v.optional(int(1, UNIFORM_MAX_GIB)),
  name: v.optional(nonEmpty()),
  memory: described(
    list(range(PAGE_SIZE), PLATFORM_ALLOWED.memory, true),
    "physical memory ranges: [{ base, size }], 4 KiB aligned, not overlapping",
  ),
  tdmrs: described(
    list(tdmr, PLATFORM_ALLOWED.tdmrs, true),
    "TDMRs: [{ base, size, reserved: [{ base, size }] }], 1 GiB aligned, inside memory",
  ),
  moduleRange: described(range(PAGE_SIZE), "the range reserved for the TDX Module: { base, size }"),
  keyIds: described(keyIds, "KeyID layout: { shift, bits, firstPrivate, privateCount, global }"),
  metadata: v.optional(obj(metadataFields, PLATFORM_ALLOWED.object)),
  clflushBeforeAlloc: described(
    pBool(),
    "whether the module asks the host to flush pages before it takes them",
  ),
  iommus: described(list(iommu, PLATFORM_ALLOWED.array), "IOMMU units: [{ name, regBase, tdxCapable }]"),
  devices: described(
    list(device, PLATFORM_ALLOWED.array),
    "PCIe devices: [{ name, requesterId, segment, rootPort, spdm }]",
  ),
  rootPorts: described(
    list(rootPort, PLATFORM_ALLOWED.array),
    "PCIe root ports: [{ name, streamSlots, devfn? }]",
  ),
});

// --- the file --------------------------------------------------------------------------------------------

/** A scenario file, as one valibot schema. */
export const SCENARIO_SCHEMA = obj({
  name: nonEmpty(),
  description: v.optional(nonEmpty()),
  platform: v.optional(platform),
  module: v.optional(
    obj({
      behaviours: v.optional(knobs(DEFAULT_BEHAVIOURS, BEHAVIOUR_RANGES)),
      interrupts: v.optional(interruptsSchema),
    }),
  ),
  host: v.optional(obj({ policy: v.optional(knobs(DEFAULT_POLICY, POLICY_RANGES)) })),
  steps: expects(steps, STEPS_TEXT),
});

/** The document {@link SCENARIO_SCHEMA} accepts, before parseScenario converts it. */
export type ScenarioDoc = v.InferOutput<typeof SCENARIO_SCHEMA>;
