/**
 * The shipped JSON Schema (schema/scenario.schema.json): generated from the one valibot definition and
 * not stale; every shipped scenario points an editor at it and validates against it; and documents the
 * parser refuses are refused by the schema's own constraints (enums, ranges, required keys, unknown
 * keys), checked by a small walker of the JSON Schema keywords the file uses (no validator is installed).
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { SCHEMA_FILE, scenarioJsonSchemaText } from "../../scripts/scenario-schema.js";
import { parseU64 } from "../../src/common/u64.js";
import { DEVICE_LIMITS } from "../../src/hw/devices.js";
import { defaultPlatform, PLATFORM_LIMITS, type Platform, validatePlatform } from "../../src/hw/platform.js";
import { parseScenario } from "../../src/scenario/schema.js";
import { STEP_KEYS, U64_PATTERN } from "../../src/scenario/schema-def.js";

type Json = Record<string, unknown>;
const SCENARIOS = fileURLToPath(new URL("../../scenarios/", import.meta.url));
const shipped = readdirSync(SCENARIOS).filter((f) => f.endsWith(".yaml"));
const schema = JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) as Json;

/** Problems of `x` against `s` (the keywords the generated schema uses), each with its path. */
function check(s: Json, x: unknown, path = "$"): string[] {
  const out: string[] = [];
  const isObj = typeof x === "object" && x !== null && !Array.isArray(x);
  if (s.not !== undefined)
    return check(s.not as Json, x, path).length === 0 ? [`${path}: must be absent`] : [];
  if (s.anyOf !== undefined) {
    const all = (s.anyOf as Json[]).map((a) => check(a, x, path));
    return all.some((p) => p.length === 0)
      ? []
      : [`${path}: no alternative fits (${all.map((p) => p[0]).join("; ")})`];
  }
  const type = s.type as string | undefined;
  const typeOk =
    type === undefined ||
    (type === "object" && isObj) ||
    (type === "array" && Array.isArray(x)) ||
    (type === "string" && typeof x === "string") ||
    (type === "boolean" && typeof x === "boolean") ||
    (type === "integer" && Number.isInteger(x)) ||
    (type === "number" && typeof x === "number");
  if (!typeOk) return [`${path}: not ${type}`];
  if (s.enum !== undefined && !(s.enum as unknown[]).includes(x)) out.push(`${path}: not in enum`);
  if (s.const !== undefined && s.const !== x) out.push(`${path}: not ${String(s.const)}`);
  if (typeof x === "number") {
    if (s.minimum !== undefined && x < (s.minimum as number)) out.push(`${path}: below minimum`);
    if (s.maximum !== undefined && x > (s.maximum as number)) out.push(`${path}: above maximum`);
    if (s.multipleOf !== undefined && x % (s.multipleOf as number) !== 0) out.push(`${path}: not a multiple`);
  }
  if (typeof x === "string") {
    if (s.minLength !== undefined && x.length < (s.minLength as number)) out.push(`${path}: too short`);
    if (s.pattern !== undefined && !new RegExp(s.pattern as string).test(x)) out.push(`${path}: pattern`);
  }
  if (Array.isArray(x)) {
    if (s.minItems !== undefined && x.length < (s.minItems as number)) out.push(`${path}: too few items`);
    if (s.maxItems !== undefined && x.length > (s.maxItems as number)) out.push(`${path}: too many items`);
    if (s.items !== undefined)
      for (const [i, it] of x.entries()) out.push(...check(s.items as Json, it, `${path}[${i}]`));
  }
  if (isObj) {
    const props = (s.properties ?? {}) as Record<string, Json>;
    for (const k of (s.required ?? []) as string[]) if (!(k in x)) out.push(`${path}.${k}: required`);
    for (const [k, val] of Object.entries(x)) {
      if (props[k] !== undefined) out.push(...check(props[k], val, `${path}.${k}`));
      else if (s.additionalProperties === false) out.push(`${path}.${k}: unknown key`);
    }
  }
  return out;
}

describe("scenario JSON Schema", () => {
  it("is what `npm run schema` generates from the definition (run it when this fails)", () => {
    expect(readFileSync(SCHEMA_FILE, "utf8")).toBe(scenarioJsonSchemaText());
  });

  it("names every top-level key and step kind the parser knows", () => {
    expect(Object.keys(schema.properties as Json)).toEqual([
      "name",
      "description",
      "platform",
      "module",
      "host",
      "steps",
    ]);
    expect(schema.required).toEqual(["name", "steps"]);
    const steps = ((schema.properties as Record<string, Json>).steps!.items as Json).anyOf as Json[];
    expect(steps.map((s) => (s.required as string[])[0])).toEqual(STEP_KEYS);
  });

  it.each(shipped)("%s points an editor at it and validates against it", (file) => {
    const text = readFileSync(`${SCENARIOS}${file}`, "utf8");
    expect(text.split("\n")[0]).toBe("# yaml-language-server: $schema=../schema/scenario.schema.json");
    const doc = parse(text) as unknown;
    expect(check(schema, doc)).toEqual([]);
    expect(() => parseScenario(doc)).not.toThrow();
  });

  const base = { name: "t", steps: [{ flow: "bring-up" }] };
  const invalid: [string, unknown, string][] = [
    ["an unknown flow (enum)", { ...base, steps: [{ flow: "x" }] }, "steps[0].flow: expected one of"],
    ["an unknown top-level key", { ...base, nope: 1 }, "nope: expected one of the keys"],
    ["no name (required)", { steps: base.steps }, "name: expected a non-empty string"],
    ["an empty step list (minItems)", { name: "t", steps: [] }, "steps: expected a non-empty list of steps"],
    [
      "an order over 10 (maximum)",
      { ...base, steps: [{ alloc: "a", order: 11 }] },
      "steps[0].order: expected an integer in 0..10",
    ],
    [
      "a cpu below 0 (minimum)",
      { ...base, steps: [{ seamcall: "TDH.SYS.RD", cpu: -1 }] },
      "steps[0].cpu: expected an integer in 0..63",
    ],
    [
      "a policy value not in its enum",
      { ...base, host: { policy: { writeBack: "sometimes" } } },
      "host.policy.writeBack: expected one of every-page, head-page-only, none",
    ],
    [
      "an unknown behaviour",
      { ...base, module: { behaviours: { nope: true } } },
      "module.behaviours.nope: expected one of the keys",
    ],
    [
      "a register value that is no u64",
      { ...base, steps: [{ seamcall: "TDH.SYS.RD", regs: { RCX: "0xg" } }] },
      'steps[0].regs.RCX: expected a u64 as "0x…" or decimal up to 2^64-1',
    ],
    [
      "a root of an unknown format",
      { ...base, steps: [{ alloc: "a" }, { root: "r", of: "a", format: "x" }] },
      "steps[1].format: expected one of hpa-list-info, hpa-array, iommu-mt",
    ],
    [
      "interrupts that are neither",
      { ...base, module: { interrupts: "often" } },
      'module.interrupts: expected a mapping, got "often"',
    ],
    [
      "a step of no kind",
      { ...base, steps: [{ bogus: 1 }] },
      "steps[0]: expected a step with one of the keys",
    ],
  ];
  const dev = defaultPlatform().devices![0]!;
  const iommu = { name: "u", regBase: 0x1000, tdxCapable: true };
  const withPlatform = (platform: unknown) => ({ ...base, platform });
  // The platform's shapes: each refused with validatePlatform's own wording (src/hw/platform.ts).
  invalid.push(
    [
      "a memory range without size (required)",
      withPlatform({ memory: [{ base: 0 }] }),
      "platform.memory[0].size: undefined is out of range; allowed a positive multiple of 0x1000 ending below 2^52",
    ],
    [
      "a memory base off its 4 KiB (multipleOf)",
      withPlatform({ memory: [{ base: 5, size: 0x1000 }] }),
      "platform.memory[0].base: 5 is out of range; allowed a multiple of 0x1000 below 2^52",
    ],
    [
      "an empty memory list (minItems)",
      withPlatform({ memory: [] }),
      "platform.memory: expected a non-empty array of ranges, got an array of 0",
    ],
    [
      "a TDMR without its reserved list",
      withPlatform({ tdmrs: [{ base: 0, size: 2 ** 30 }] }),
      "platform.tdmrs[0].reserved: undefined is out of range; allowed an array of at most 16 reserved areas",
    ],
    [
      "17 reserved areas (maxItems)",
      withPlatform({
        tdmrs: [
          {
            base: 0,
            size: 2 ** 30,
            reserved: Array.from({ length: 17 }, (_, i) => ({ base: i * 0x1000, size: 0x1000 })),
          },
        ],
      }),
      "platform.tdmrs[0].reserved: an array of 17 is out of range; allowed an array of at most 16 reserved areas",
    ],
    [
      "an unknown key in an IOMMU",
      withPlatform({ iommus: [{ ...iommu, socket: 1 }] }),
      "platform.iommus[0].socket: expected one of the keys name, regBase, tdxCapable",
    ],
    [
      "an IOMMU register base off its page",
      withPlatform({ iommus: [{ ...iommu, regBase: 0xfff }] }),
      "platform.iommus[0].regBase: 4095 is out of range; allowed a 4 KiB aligned address below 2^52",
    ],
    [
      "a device with a segment over 255",
      withPlatform({ devices: [{ ...dev, segment: 256 }] }),
      "platform.devices[0].segment: 256 is out of range; allowed 0..255",
    ],
    [
      "a device whose measurement has no index",
      withPlatform({
        devices: [{ ...dev, spdm: { ...dev.spdm, measurements: [{ seed: "s", bytes: 4 }] } }],
      }),
      "platform.devices[0].spdm.measurements[0].index: undefined is out of range; allowed 1..254",
    ],
    [
      "a root port of no stream slots",
      withPlatform({ rootPorts: [{ name: "r", streamSlots: 0 }] }),
      "platform.rootPorts[0].streamSlots: 0 is out of range; allowed 1..256",
    ],
    [
      "a KeyID shift over 51",
      withPlatform({ keyIds: { ...defaultPlatform().keyIds, shift: 52 } }),
      "platform.keyIds.shift: 52 is out of range; allowed 32..51",
    ],
    [
      "a metadata iqOrder of 99",
      withPlatform({ metadata: { iqOrder: 99 } }),
      "platform.metadata.iqOrder: 99 is out of range; allowed 1..10",
    ],
    [
      "an unknown fieldIds",
      withPlatform({ metadata: { fieldIds: "v3" } }),
      'platform.metadata.fieldIds: "v3" is out of range; allowed "both", "rfc-v2" or "june"',
    ],
    [
      "a feature bit of 64",
      withPlatform({ metadata: { TDX_FEATURES0_BITS: [64] } }),
      "platform.metadata.TDX_FEATURES0_BITS[0]: 64 is out of range; allowed 0..63",
    ],
    [
      "clflushBeforeAlloc as text",
      withPlatform({ clflushBeforeAlloc: "yes" }),
      'platform.clflushBeforeAlloc: expected a boolean, got "yes"',
    ],
  );
  it.each(invalid)("refuses %s in the parser and in the schema", (_, doc, message) => {
    expect(() => parseScenario(doc)).toThrow(message);
    expect(check(schema, doc)).not.toEqual([]);
  });

  it("accepts in the schema what the parser accepts (a valid document of every step kind)", () => {
    const doc = {
      name: "every kind",
      module: { interrupts: { random: 0.5, seed: 3 }, behaviours: { deleteOmitsOnePage: false } },
      host: { policy: { writeBack: "none" } },
      steps: [
        { flow: "extensions", expect: { ok: true } },
        { alloc: "a", pages: 2 },
        { root: "r", of: "a", format: "hpa-array" },
        { clflush: "a" },
        { seamcall: "TDH.SYS.RD", regs: { RCX: "0x1", RDX: "@a[1]" }, expect: { status: "TDX_SUCCESS" } },
        { seamcall: "TDH.SYS.RD", cpu: 1, schedule: { cpus: 2, seed: 1, p: 0.5 } },
        { join: true, expect: { busyRetries: 0 } },
        { inject: { leaf: "TDH.EXT.MEM.ADD", nth: 1, status: "TDX_OPERAND_BUSY(RCX)" } },
        { inject: { allocation: 1 } },
        { inject: { allocationTag: "t", count: 2 } },
        { interrupts: { every: 3 } },
        { interrupts: "none" },
        { evict: true },
        { expect: { hazards: { "host-access-to-private": 0 }, pages: { stranded: 0 }, conservation: "ok" } },
      ],
    };
    expect(() => parseScenario(doc)).not.toThrow();
    expect(check(schema, doc)).toEqual([]);
  });

  it("accepts in the schema and the parser the default platform written out whole", () => {
    const doc = withPlatform(JSON.parse(JSON.stringify(defaultPlatform())));
    expect(check(schema, doc)).toEqual([]);
    expect(parseScenario(doc).platform).toEqual(defaultPlatform());
  });

  // Each limit just outside its range: the parser (by the schema) and validatePlatform (for a library
  // caller's Platform) refuse it with one message, and the JSON Schema refuses it too.
  const md = defaultPlatform().metadata;
  const rp = defaultPlatform().rootPorts![0]!;
  const edges: [string, Record<string, unknown>][] = [];
  const outside = (r: { min: number; max: number }) => [r.min - 1, r.max + 1];
  for (const [k, r] of Object.entries(PLATFORM_LIMITS.metadata))
    for (const x of outside(r)) edges.push([`metadata.${k} = ${x}`, { metadata: { ...md, [k]: x } }]);
  for (const k of ["streamSlots", "devfn"] as const)
    for (const x of outside(DEVICE_LIMITS[k]))
      edges.push([`rootPorts[0].${k} = ${x}`, { rootPorts: [{ ...rp, [k]: x }] }]);
  for (const k of ["requesterId", "segment", "certChainBytes", "capabilities"] as const)
    for (const x of outside(DEVICE_LIMITS[k])) {
      const d =
        k === "requesterId" || k === "segment"
          ? { ...dev, [k]: x }
          : { ...dev, spdm: { ...dev.spdm, [k]: x } };
      edges.push([`devices[0].${k} = ${x}`, { devices: [d] }]);
    }
  it.each(edges)("refuses %s with validatePlatform's message", (_, over) => {
    const lib = { ...defaultPlatform(), ...over } as Platform;
    let message = "";
    try {
      validatePlatform(lib);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^platform\./);
    expect(() => parseScenario(withPlatform(over))).toThrow(message);
    expect(check(schema, withPlatform(over))).not.toEqual([]);
  });

  it("leaves to validatePlatform what one value cannot say, with its own message", () => {
    // Both ranges fit the schema; only their overlap is wrong.
    const doc = withPlatform({
      memory: [
        { base: 0, size: 2 ** 31 },
        { base: 2 ** 30, size: 2 ** 31 },
      ],
    });
    expect(check(schema, doc)).toEqual([]);
    expect(() => parseScenario(doc)).toThrow(
      'platform.memory[1]: "0x40000000" is out of range; allowed a range not overlapping memory[0]',
    );
  });

  it("matches parseU64 on u64 text", () => {
    const re = new RegExp(U64_PATTERN);
    for (const t of [
      "0",
      "18446744073709551615",
      "0x1",
      "0xffff_ffff",
      "0X0",
      "x1",
      "0x",
      "-1",
      "1.5",
      "",
      "0xg",
    ]) {
      let ok = true;
      try {
        parseU64(t);
      } catch {
        ok = false;
      }
      // The pattern admits what parseU64 reads; a decimal above 2^64-1 it admits is refused by the parser.
      if (ok) expect(re.test(t), t).toBe(true);
      else if (!/^[0-9]{1,20}$/.test(t)) expect(re.test(t), t).toBe(false);
    }
  });
});

describe("docs/SCENARIOS.md", () => {
  const doc = readFileSync(fileURLToPath(new URL("../../docs/SCENARIOS.md", import.meta.url)), "utf8");
  const platformKeys = Object.keys(
    ((schema.properties as Record<string, Json>).platform!.properties ?? {}) as Json,
  );
  it.each([...Object.keys(schema.properties as Json), ...platformKeys, ...STEP_KEYS])(
    "mentions `%s`",
    (key) => {
      expect(doc).toContain(`\`${key}`);
    },
  );
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Json | null);
  it("has examples the parser and the schema accept", () => {
    const base = { name: "docs", steps: [{ flow: "bring-up" }] };
    const examples = blocks.filter((b): b is Json => b !== null);
    expect(examples.length).toBeGreaterThanOrEqual(4);
    for (const b of examples) {
      const whole = { ...base, ...b };
      expect(check(schema, whole)).toEqual([]);
      // The platform example shows every key, not one consistent machine: only the schema checks it.
      if (b.platform === undefined) expect(() => parseScenario(whole)).not.toThrow();
    }
  });
  it("says how to point an editor at the schema", () => {
    expect(doc).toContain("yaml-language-server: $schema=");
  });
});
