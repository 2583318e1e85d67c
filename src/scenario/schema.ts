/**
 * Scenario files: a platform override, module behaviours and interrupt schedule, host policy, and a
 * list of steps (flows, single SEAMCALLs with explicit operands, page allocations and root pages built
 * from them, interrupt schedules, fault injection, evictions, expectations).
 *
 * {@link parseScenario} validates a parsed YAML/JSON value completely before anything runs and throws
 * a typed error whose message starts with the path inside the file (`steps[3].inject.leaf: …`) and says
 * what was expected. The format is documented in docs/SCENARIOS.md.
 */
import { describeValue, TdxpaError } from "../common/errors.js";
import { LEAF, type LeafName, REG, STATUS, type StatusName } from "../common/status.js";
import { parseU64, type U64 } from "../common/u64.js";
import { DEFAULT_POLICY, type HostPolicy, POLICY_RANGES } from "../host/kernel.js";
import type { HazardKind } from "../hw/cache.js";
import { defaultPlatform, type Platform, uniformPlatform, validatePlatform } from "../hw/platform.js";
import {
  BEHAVIOUR_RANGES,
  type Behaviours,
  DEFAULT_BEHAVIOURS,
  type InterruptPlan,
} from "../module/behaviours.js";
import { FLOW_NAMES, type FlowName } from "./flows.js";
import { checkScenarioLimits, MODEL_LIMITS } from "./limits.js";

/** A register value: a u64 (hex or decimal string, or a number) or a reference `@name` / `@name[i]`. */
export type RegValue = { readonly u64: U64 } | { readonly ref: string; readonly index: number | null };

/** What a flow step may expect. */
export interface FlowExpect {
  readonly ok?: boolean;
  readonly failedStatus?: string;
  readonly stranded?: number;
}

/** What an `expect` step may check. */
export interface StateExpect {
  /** Hazards found so far: a total count, or per-kind counts. */
  readonly hazards?: number | Readonly<Partial<Record<HazardKind, number>>>;
  /** Model reports found so far. */
  readonly reports?: number;
  /** Pages by place (conservation totals). */
  readonly pages?: Readonly<Partial<Record<"free" | "hostHeld" | "moduleOwned" | "stranded", number>>>;
  /** Whether the conservation check passes now. */
  readonly conservation?: "ok" | "fail";
  /** Pages damaged by evictions so far. */
  readonly damagedPages?: number;
}

/** One step. */
export type Step =
  | { readonly kind: "flow"; readonly flow: FlowName; readonly expect: FlowExpect | null }
  | {
      readonly kind: "seamcall";
      readonly leaf: LeafName;
      readonly regs: Readonly<Record<number, RegValue>>;
      readonly expect: {
        readonly status: string | null;
        readonly regs: Readonly<Record<number, U64>>;
      } | null;
      /** Logical CPU (0: the steps' own; ≥ 1: queued there, run interleaved, ended by a `join` step). */
      readonly cpu: number;
      /** The CPU schedule, given with the first call on another CPU (default seed 1, p 0.5). */
      readonly schedule: { readonly cpus: number; readonly seed: number; readonly p: number } | null;
    }
  | {
      readonly kind: "join";
      /** Every queued call's final status, and the least number of OPERAND_BUSY retries among them all. */
      readonly expect: { readonly status: string | null; readonly busyRetries: number | null } | null;
    }
  | {
      readonly kind: "alloc";
      readonly name: string;
      readonly pages: number;
      readonly order: number;
      readonly contiguous: boolean;
      readonly zero: boolean;
      /** For order ≥ 1: `__GFP_COMP` (true, default) or 2^order pages of their own (false). */
      readonly compound: boolean;
    }
  | {
      readonly kind: "root";
      readonly name: string;
      readonly format: "hpa-list-info" | "hpa-array" | "iommu-mt";
      readonly of: string;
    }
  | {
      readonly kind: "inject-alloc";
      readonly nth: number | null;
      readonly tag: string | null;
      readonly count: number;
    }
  | { readonly kind: "inject-status"; readonly leaf: LeafName; readonly nth: number; readonly status: U64 }
  | { readonly kind: "interrupts"; readonly plan: InterruptPlan }
  | { readonly kind: "evict" }
  /** CLFLUSH of every 4 KiB page of an alloc step's pages (KeyID-0 lines written back and dropped). */
  | { readonly kind: "clflush"; readonly name: string }
  | { readonly kind: "expect"; readonly expect: StateExpect };

/** A validated scenario. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly platform: Platform;
  readonly behaviours: Behaviours;
  readonly interrupts: InterruptPlan;
  readonly policy: HostPolicy;
  readonly steps: readonly Step[];
}

class Path {
  constructor(readonly text: string) {}
  key(k: string): Path {
    return new Path(this.text === "" ? k : `${this.text}.${k}`);
  }
  idx(i: number): Path {
    return new Path(`${this.text}[${i}]`);
  }
  fail(expected: string, got: unknown): never {
    // An integer beyond 2^53 arrives as a bigint (scenario-file.ts): quoted as written, no "n".
    const shown = typeof got === "bigint" ? String(got) : describeValue(got);
    throw new TdxpaError("bad-format", `${this.text || "(top)"}: expected ${expected}, got ${shown}`);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function obj(p: Path, v: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (!isObj(v)) p.fail("a mapping", v);
  for (const k of Object.keys(v))
    if (!allowed.includes(k)) p.key(k).fail(`one of the keys ${allowed.join(", ")}`, k);
  return v;
}

function str(p: Path, v: unknown): string {
  if (typeof v !== "string" || v.length === 0) p.fail("a non-empty string", v);
  return v;
}

function int(p: Path, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    p.fail(`an integer in ${min}..${max}`, v);
  return v;
}

function bool(p: Path, v: unknown): boolean {
  if (typeof v !== "boolean") p.fail("true or false", v);
  return v;
}

function oneOf<T extends string>(p: Path, v: unknown, options: readonly T[]): T {
  if (typeof v !== "string" || !options.includes(v as T)) p.fail(`one of ${options.join(", ")}`, v);
  return v as T;
}

function u64Of(p: Path, v: unknown): U64 {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return parseU64(String(v));
  if (typeof v === "bigint" && v >= 0n && v < 2n ** 64n) return parseU64(String(v));
  if (typeof v !== "string") p.fail('a u64 as "0x…" or decimal', v);
  try {
    return parseU64(v);
  } catch {
    return p.fail('a u64 as "0x…" or decimal up to 2^64-1', v);
  }
}

/** A status by name (`TDX_OPERAND_BUSY`, optionally `(RCX)`) or as a u64. */
function statusOf(p: Path, v: unknown): U64 {
  if (typeof v === "string") {
    const m = /^(TDX_[A-Z0-9_]+)(?:\((R[A-Z0-9]+)\))?$/.exec(v);
    if (m !== null) {
      const k = STATUS[m[1] as StatusName];
      if (k === undefined) p.fail(`a status name (${Object.keys(STATUS).join(", ")})`, v);
      const reg = m[2] === undefined ? 0 : REG[m[2] as keyof typeof REG];
      if (reg === undefined) p.fail("a register name such as RCX in parentheses", v);
      return { lo: reg, hi: k.hi };
    }
  }
  return u64Of(p, v);
}

const REG_NAMES = Object.keys(REG) as (keyof typeof REG)[];
const REF_RE = /^@([A-Za-z_][\w-]*)(?:\[(\d+)\])?$/;

/** A name an alloc or root step defined: what it is, and for an alloc how many pages (blocks) it has. */
interface NameDef {
  readonly kind: "alloc" | "root";
  readonly pages: number;
  readonly path: string;
}

/**
 * A register value; a reference must name an earlier step and fit it: `@root` (a root's operand, no
 * index), `@alloc[i]` with i below its page count, or `@alloc` alone for a one-page alloc. Nothing is
 * defaulted: an index out of range or on a root is an error quoting the text as written.
 */
function regValue(p: Path, v: unknown, names: ReadonlyMap<string, NameDef>): RegValue {
  if (typeof v === "string" && v.startsWith("@")) {
    const m = REF_RE.exec(v);
    if (m === null) p.fail("a reference @name or @name[i]", v);
    const def = names.get(m[1]!);
    if (def === undefined)
      p.fail(
        `a name defined by an earlier alloc or root step (${[...names.keys()].join(", ") || "none yet"})`,
        v,
      );
    if (def.kind === "root" && m[2] !== undefined)
      p.fail(`@${m[1]} without an index (${m[1]} is a root step's operand, ${def.path})`, v);
    if (def.kind === "alloc") {
      if (m[2] === undefined && def.pages !== 1)
        p.fail(`@${m[1]}[i] with i in 0..${def.pages - 1} (${m[1]} has ${def.pages} pages, ${def.path})`, v);
      if (m[2] !== undefined && !(m[2].length <= 15 && Number(m[2]) < def.pages))
        p.fail(`an index in 0..${def.pages - 1} (${m[1]} has ${def.pages} pages, ${def.path})`, v);
    }
    return { ref: m[1]!, index: m[2] === undefined ? null : Number(m[2]) };
  }
  return { u64: u64Of(p, v) };
}

/** Records a new name, refusing one an earlier step defined. */
function define(p: Path, names: Map<string, NameDef>, name: string, def: NameDef): void {
  const old = names.get(name);
  if (old !== undefined) p.fail(`a name not defined before (${old.path} defines ${name})`, name);
  names.set(name, def);
}

function interruptsOf(p: Path, v: unknown): InterruptPlan {
  if (v === "none") return { kind: "none" };
  const o = obj(p, v, ["every", "random", "seed"]);
  if (o.every !== undefined) {
    if (o.random !== undefined) p.fail("either every or random", v);
    return { kind: "every", k: int(p.key("every"), o.every, 1, 2 ** 31) };
  }
  if (o.random !== undefined) {
    const prob = o.random;
    if (typeof prob !== "number" || !(prob >= 0 && prob <= 1))
      return p.key("random").fail("a probability in 0..1", prob);
    return {
      kind: "random",
      p: prob,
      seed: o.seed === undefined ? 1 : int(p.key("seed"), o.seed, 0, 0xffff_ffff),
    };
  }
  return p.fail('"none", { every: k } or { random: p, seed: s }', v);
}

const HAZARD_KINDS: readonly HazardKind[] = [
  "dirty-host-lines-on-private",
  "private-lines-on-host-page",
  "host-access-to-private",
  "private-lines-left-at-end",
];

function stateExpect(p: Path, v: unknown): StateExpect {
  const o = obj(p, v, ["hazards", "reports", "pages", "conservation", "damagedPages"]);
  const out: { -readonly [K in keyof StateExpect]: StateExpect[K] } = {};
  if (o.hazards !== undefined) {
    if (typeof o.hazards === "number") out.hazards = int(p.key("hazards"), o.hazards, 0, 2 ** 40);
    else {
      const h = obj(p.key("hazards"), o.hazards, HAZARD_KINDS);
      const per: Partial<Record<HazardKind, number>> = {};
      for (const [k, n] of Object.entries(h))
        per[k as HazardKind] = int(p.key("hazards").key(k), n, 0, 2 ** 40);
      out.hazards = per;
    }
  }
  if (o.reports !== undefined) out.reports = int(p.key("reports"), o.reports, 0, 2 ** 40);
  if (o.damagedPages !== undefined) out.damagedPages = int(p.key("damagedPages"), o.damagedPages, 0, 2 ** 40);
  if (o.conservation !== undefined)
    out.conservation = oneOf(p.key("conservation"), o.conservation, ["ok", "fail"] as const);
  if (o.pages !== undefined) {
    const pg = obj(p.key("pages"), o.pages, ["free", "hostHeld", "moduleOwned", "stranded"]);
    const pages: Record<string, number> = {};
    for (const [k, n] of Object.entries(pg)) pages[k] = int(p.key("pages").key(k), n, 0, 2 ** 40);
    out.pages = pages;
  }
  return out;
}

const STEP_KEYS = [
  "flow",
  "seamcall",
  "alloc",
  "root",
  "inject",
  "interrupts",
  "evict",
  "clflush",
  "join",
  "expect",
] as const;

function step(p: Path, v: unknown, names: Map<string, NameDef>): Step {
  if (!isObj(v)) p.fail(`a step mapping with one of ${STEP_KEYS.join(", ")}`, v);
  const kind = STEP_KEYS.find((k) => k in v);
  if (kind === undefined)
    p.fail(`a step with one of the keys ${STEP_KEYS.join(", ")}`, Object.keys(v).join(", ") || "{}");
  switch (kind) {
    case "flow": {
      const o = obj(p, v, ["flow", "expect", "note"]);
      const flow = oneOf(p.key("flow"), o.flow, FLOW_NAMES);
      let expect: FlowExpect | null = null;
      if (o.expect !== undefined) {
        const e = obj(p.key("expect"), o.expect, ["ok", "failedStatus", "stranded"]);
        expect = {
          ...(e.ok === undefined ? {} : { ok: bool(p.key("expect").key("ok"), e.ok) }),
          ...(e.failedStatus === undefined
            ? {}
            : { failedStatus: str(p.key("expect").key("failedStatus"), e.failedStatus) }),
          ...(e.stranded === undefined
            ? {}
            : { stranded: int(p.key("expect").key("stranded"), e.stranded, 0, 2 ** 40) }),
        };
      }
      return { kind: "flow", flow, expect };
    }
    case "seamcall": {
      const o = obj(p, v, ["seamcall", "regs", "expect", "note", "cpu", "schedule"]);
      const cpu = o.cpu === undefined ? 0 : int(p.key("cpu"), o.cpu, 0, 63);
      let schedule: { cpus: number; seed: number; p: number } | null = null;
      if (o.schedule !== undefined) {
        const sc = obj(p.key("schedule"), o.schedule, ["cpus", "seed", "p"]);
        const pv: unknown = sc.p === undefined ? 0.5 : sc.p;
        if (typeof pv !== "number" || !(pv >= 0 && pv <= 1))
          p.key("schedule").key("p").fail("a number in 0..1", pv);
        schedule = {
          cpus:
            sc.cpus === undefined ? Math.max(2, cpu + 1) : int(p.key("schedule").key("cpus"), sc.cpus, 2, 64),
          seed: sc.seed === undefined ? 1 : int(p.key("schedule").key("seed"), sc.seed, 0, 2 ** 32 - 1),
          p: pv as number,
        };
      }
      if (cpu > 0 && o.expect !== undefined)
        p.key("expect").fail("no expect on a call queued on another CPU (a join step checks it)", o.expect);
      const leaf = oneOf(p.key("seamcall"), o.seamcall, Object.keys(LEAF) as LeafName[]);
      const regs: Record<number, RegValue> = {};
      if (o.regs !== undefined) {
        const r = obj(
          p.key("regs"),
          o.regs,
          REG_NAMES.filter((n) => n !== "RAX"),
        );
        for (const [name, val] of Object.entries(r))
          regs[REG[name as keyof typeof REG]] = regValue(p.key("regs").key(name), val, names);
      }
      let expect: { status: string | null; regs: Record<number, U64> } | null = null;
      if (o.expect !== undefined) {
        const e = obj(p.key("expect"), o.expect, ["status", "regs"]);
        const out: Record<number, U64> = {};
        if (e.regs !== undefined) {
          const r = obj(
            p.key("expect").key("regs"),
            e.regs,
            REG_NAMES.filter((n) => n !== "RAX"),
          );
          for (const [name, val] of Object.entries(r))
            out[REG[name as keyof typeof REG]] = u64Of(p.key("expect").key("regs").key(name), val);
        }
        let status: string | null = null;
        if (e.status !== undefined) {
          statusOf(p.key("expect").key("status"), e.status);
          status = String(e.status);
        }
        expect = { status, regs: out };
      }
      return { kind: "seamcall", leaf, regs, expect, cpu, schedule };
    }
    case "alloc": {
      const o = obj(p, v, ["alloc", "pages", "order", "contiguous", "zero", "compound", "note"]);
      const name = str(p.key("alloc"), o.alloc);
      if (!/^[A-Za-z_][\w-]*$/.test(name)) p.key("alloc").fail("a name of letters, digits, _ and -", name);
      const pages = o.pages === undefined ? 1 : int(p.key("pages"), o.pages, 1, MODEL_LIMITS.pages);
      define(p.key("alloc"), names, name, { kind: "alloc", pages, path: p.text });
      return {
        kind: "alloc",
        name,
        pages,
        order: o.order === undefined ? 0 : int(p.key("order"), o.order, 0, 10),
        contiguous: o.contiguous === undefined ? false : bool(p.key("contiguous"), o.contiguous),
        zero: o.zero === undefined ? false : bool(p.key("zero"), o.zero),
        compound: o.compound === undefined ? true : bool(p.key("compound"), o.compound),
      };
    }
    case "root": {
      const o = obj(p, v, ["root", "format", "of", "note"]);
      const name = str(p.key("root"), o.root);
      const of = str(p.key("of"), o.of);
      const src = names.get(of);
      if (src === undefined || src.kind !== "alloc") {
        const allocs = [...names].filter(([, d]) => d.kind === "alloc").map(([n]) => n);
        return p
          .key("of")
          .fail(
            `a name defined by an earlier alloc step (${allocs.join(", ") || "none yet"})${src === undefined ? "" : `; ${of} is a root (${src.path})`}`,
            of,
          );
      }
      if (src.pages > MODEL_LIMITS.rootEntries)
        p.key("of").fail(
          `an alloc of at most ${MODEL_LIMITS.rootEntries} pages, the entries of one root page (01-formats.md 1.2); ${of} has ${src.pages}`,
          of,
        );
      define(p.key("root"), names, name, { kind: "root", pages: 1, path: p.text });
      return {
        kind: "root",
        name,
        of,
        format: oneOf(p.key("format"), o.format, ["hpa-list-info", "hpa-array", "iommu-mt"] as const),
      };
    }
    case "inject": {
      const o = obj(p, v, ["inject", "note"]);
      const i = obj(p.key("inject"), o.inject, [
        "allocation",
        "allocationTag",
        "count",
        "leaf",
        "nth",
        "status",
      ]);
      const ip = p.key("inject");
      if (i.leaf !== undefined) {
        return {
          kind: "inject-status",
          leaf: oneOf(ip.key("leaf"), i.leaf, Object.keys(LEAF) as LeafName[]),
          nth: int(ip.key("nth"), i.nth, 1, 2 ** 31),
          status: statusOf(ip.key("status"), i.status),
        };
      }
      if (i.allocation !== undefined)
        return {
          kind: "inject-alloc",
          nth: int(ip.key("allocation"), i.allocation, 1, 2 ** 31),
          tag: null,
          count: 1,
        };
      if (i.allocationTag !== undefined) {
        return {
          kind: "inject-alloc",
          nth: null,
          tag: str(ip.key("allocationTag"), i.allocationTag),
          count: i.count === undefined ? 1 : int(ip.key("count"), i.count, 1, 2 ** 31),
        };
      }
      return ip.fail("{ allocation: n }, { allocationTag: t, count? } or { leaf, nth, status }", o.inject);
    }
    case "interrupts":
      obj(p, v, ["interrupts", "note"]);
      return { kind: "interrupts", plan: interruptsOf(p.key("interrupts"), v.interrupts) };
    case "join": {
      const o = obj(p, v, ["join", "expect", "note"]);
      if (o.join !== true) p.key("join").fail("true", o.join);
      if (o.expect === undefined) return { kind: "join", expect: null };
      const e = obj(p.key("expect"), o.expect, ["status", "busyRetries"]);
      if (e.status !== undefined) statusOf(p.key("expect").key("status"), e.status);
      return {
        kind: "join",
        expect: {
          status: e.status === undefined ? null : String(e.status),
          busyRetries:
            e.busyRetries === undefined
              ? null
              : int(p.key("expect").key("busyRetries"), e.busyRetries, 0, 2 ** 31),
        },
      };
    }
    case "clflush": {
      const o = obj(p, v, ["clflush", "note"]);
      const name = str(p.key("clflush"), o.clflush);
      const src = names.get(name);
      if (src === undefined || src.kind !== "alloc") {
        const allocs = [...names].filter(([, d]) => d.kind === "alloc").map(([n]) => n);
        return p
          .key("clflush")
          .fail(`a name defined by an earlier alloc step (${allocs.join(", ") || "none yet"})`, name);
      }
      return { kind: "clflush", name };
    }
    case "evict":
      obj(p, v, ["evict", "note"]);
      if (v.evict !== true) p.key("evict").fail("true", v.evict);
      return { kind: "evict" };
    case "expect":
      obj(p, v, ["expect", "note"]);
      return { kind: "expect", expect: stateExpect(p.key("expect"), v.expect) };
  }
}

const PLATFORM_KEYS = [
  "base",
  "totalGiB",
  "name",
  "memory",
  "tdmrs",
  "moduleRange",
  "keyIds",
  "metadata",
  "clflushBeforeAlloc",
  "iommus",
  "devices",
  "rootPorts",
];

function platformOf(p: Path, v: unknown): Platform {
  if (v === undefined) return defaultPlatform();
  const o = obj(p, v, PLATFORM_KEYS);
  const base =
    o.base === undefined ? "default" : oneOf(p.key("base"), o.base, ["default", "uniform"] as const);
  let plat: Platform;
  if (base === "uniform") {
    const gib = int(p.key("totalGiB"), o.totalGiB, 1, 64 * 1024);
    plat = uniformPlatform(gib * 2 ** 30);
  } else {
    if (o.totalGiB !== undefined) p.key("totalGiB").fail("no totalGiB unless base is uniform", o.totalGiB);
    plat = defaultPlatform();
  }
  const merged: Record<string, unknown> = { ...plat };
  for (const k of PLATFORM_KEYS) {
    if (k === "base" || k === "totalGiB" || o[k] === undefined) continue;
    if (k === "metadata")
      merged.metadata = {
        ...plat.metadata,
        ...obj(p.key("metadata"), o.metadata, Object.keys(plat.metadata)),
      };
    else merged[k] = o[k];
  }
  try {
    return validatePlatform(merged as unknown as Platform);
  } catch (e) {
    throw new TdxpaError("bad-format", `${p.text}${(e as Error).message.replace(/^platform/, "")}`);
  }
}

function knobs<T extends object>(
  p: Path,
  v: unknown,
  defaults: T,
  ranges: Readonly<Record<string, { readonly min: number; readonly max: number }>>,
): T {
  if (v === undefined) return defaults;
  const o = obj(p, v, Object.keys(defaults));
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [k, val] of Object.entries(o)) {
    const d = (defaults as Record<string, unknown>)[k];
    if (typeof d === "boolean") out[k] = bool(p.key(k), val);
    else if (typeof d === "number") {
      const r = ranges[k];
      if (r === undefined) throw new Error(`no range is defined for the numeric knob ${k}`);
      out[k] = int(p.key(k), val, r.min, r.max);
    } else if (typeof d === "string") {
      if (typeof val !== "string") p.key(k).fail("a string", val);
      out[k] = val;
    }
  }
  return out as T;
}

const ENUMS: Record<string, readonly string[]> = {
  moduleOwnedSharedPage: ["report", "reject", "ignore"],
  clflush: ["if-required", "always", "never"],
  writeBack: ["every-page", "head-page-only", "none"],
  extAddResume: ["returned", "original"],
  flushFlag: ["before-call", "on-success"],
  extLockScope: ["v2", "all-spdm"],
  segmentValid: ["always", "non-zero-segment"],
  poolGate: ["ext-required", "pool-count"],
  metadataIds: ["june", "rfc-v2"],
};

function checkEnums(p: Path, o: object): void {
  for (const [k, v] of Object.entries(o)) if (ENUMS[k] !== undefined) oneOf(p.key(k), v, ENUMS[k]);
}

/**
 * Validates a parsed scenario document and returns the scenario. Throws a typed `bad-format` error
 * naming the path of the first problem and what was expected.
 */
export function parseScenario(doc: unknown): Scenario {
  const top = new Path("");
  const o = obj(top, doc, ["name", "description", "platform", "module", "host", "steps"]);
  const name = str(top.key("name"), o.name);
  const description = o.description === undefined ? "" : str(top.key("description"), o.description);
  const platform = platformOf(top.key("platform"), o.platform);
  const mod = o.module === undefined ? {} : obj(top.key("module"), o.module, ["behaviours", "interrupts"]);
  const behaviours = knobs(
    top.key("module").key("behaviours"),
    mod.behaviours,
    DEFAULT_BEHAVIOURS,
    BEHAVIOUR_RANGES,
  );
  checkEnums(top.key("module").key("behaviours"), behaviours);
  const interrupts =
    mod.interrupts === undefined
      ? ({ kind: "none" } as const)
      : interruptsOf(top.key("module").key("interrupts"), mod.interrupts);
  const host = o.host === undefined ? {} : obj(top.key("host"), o.host, ["policy"]);
  const policy = knobs(top.key("host").key("policy"), host.policy, DEFAULT_POLICY, POLICY_RANGES);
  checkEnums(top.key("host").key("policy"), policy);
  const rawSteps: unknown = o.steps;
  if (!Array.isArray(rawSteps) || rawSteps.length === 0)
    return top.key("steps").fail("a non-empty list of steps", rawSteps);
  if (rawSteps.length > MODEL_LIMITS.steps)
    return top.key("steps").fail(`at most ${MODEL_LIMITS.steps} steps (the model's limit)`, rawSteps);
  const names = new Map<string, NameDef>();
  const steps = rawSteps.map((s: unknown, i: number) => step(top.key("steps").idx(i), s, names));
  checkScenarioLimits({
    platform,
    iqOrder: policy.iqOrder,
    steps: steps.length,
    allocs: steps.flatMap((st, i) =>
      st.kind === "alloc" ? [{ path: `steps[${i}]`, pages: st.pages, order: st.order }] : [],
    ),
  });
  return { name, description, platform, behaviours, interrupts, policy, steps };
}
