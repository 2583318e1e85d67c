/**
 * Scenario files: a platform override, module behaviours and interrupt schedule, host policy, and a
 * list of steps (flows, single SEAMCALLs with explicit operands, page allocations and root pages built
 * from them, interrupt schedules, fault injection, evictions, expectations).
 *
 * {@link parseScenario} validates a parsed YAML/JSON value completely before anything runs and throws
 * a typed error whose message starts with the path inside the file (`steps[3].inject.leaf: …`) and says
 * what was expected. The shapes are one valibot definition (`schema-def.ts`, also the source of the
 * JSON Schema); this file turns an accepted document into a {@link Scenario} and runs the checks that
 * need more than one part of the file (names and references between steps, the platform's rules, the
 * model's limits). The format is documented in docs/SCENARIOS.md.
 */
import * as v from "valibot";
import { TdxpaError } from "../common/errors.js";
import { type LeafName, REG, STATUS, type StatusName } from "../common/status.js";
import { parseU64, type U64 } from "../common/u64.js";
import { DEFAULT_POLICY, type HostPolicy } from "../host/kernel.js";
import type { HazardKind } from "../hw/cache.js";
import { defaultPlatform, type Platform, uniformPlatform, validatePlatform } from "../hw/platform.js";
import { type Behaviours, DEFAULT_BEHAVIOURS, type InterruptPlan } from "../module/behaviours.js";
import type { FlowName } from "./flows.js";
import { checkScenarioLimits, MODEL_LIMITS } from "./limits.js";
import {
  REF_RE,
  type ROOT_FORMATS,
  SCENARIO_SCHEMA,
  STATUS_RE,
  type STEP_SCHEMAS,
  type StepKey,
  shown,
  stepKeyOf,
  UNIFORM_MAX_GIB,
} from "./schema-def.js";

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
      readonly format: (typeof ROOT_FORMATS)[number];
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
    throw new TdxpaError("bad-format", `${this.text || "(top)"}: expected ${expected}, got ${shown(got)}`);
  }
}

/** The first issue valibot found, as the project's typed error: `PATH: expected WHAT, got VALUE`. */
function issueError(issue: v.BaseIssue<unknown>): TdxpaError {
  let path = "";
  for (const item of issue.path ?? []) {
    const k = (item as { key: unknown }).key;
    path += typeof k === "number" ? `[${k}]` : path === "" ? String(k) : `.${String(k)}`;
  }
  return new TdxpaError("bad-format", `${path || "(top)"}: ${issue.message}`);
}

const u64Of = (x: unknown): U64 => parseU64(String(x));

/** A status (validated) as a u64: a name with an optional register, or a u64. */
function statusValue(x: unknown): U64 {
  const m = typeof x === "string" ? STATUS_RE.exec(x) : null;
  if (m === null) return u64Of(x);
  const reg = m[2] === undefined ? 0 : REG[m[2] as keyof typeof REG];
  return { lo: reg, hi: STATUS[m[1] as StatusName].hi };
}

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
function regValue(p: Path, x: unknown, names: ReadonlyMap<string, NameDef>): RegValue {
  const m = typeof x === "string" ? REF_RE.exec(x) : null;
  if (m === null) return { u64: u64Of(x) };
  const def = names.get(m[1]!);
  if (def === undefined)
    p.fail(
      `a name defined by an earlier alloc or root step (${[...names.keys()].join(", ") || "none yet"})`,
      x,
    );
  if (def.kind === "root" && m[2] !== undefined)
    p.fail(`@${m[1]} without an index (${m[1]} is a root step's operand, ${def.path})`, x);
  if (def.kind === "alloc") {
    if (m[2] === undefined && def.pages !== 1)
      p.fail(`@${m[1]}[i] with i in 0..${def.pages - 1} (${m[1]} has ${def.pages} pages, ${def.path})`, x);
    if (m[2] !== undefined && !(m[2].length <= 15 && Number(m[2]) < def.pages))
      p.fail(`an index in 0..${def.pages - 1} (${m[1]} has ${def.pages} pages, ${def.path})`, x);
  }
  return { ref: m[1]!, index: m[2] === undefined ? null : Number(m[2]) };
}

/** Records a new name, refusing one an earlier step defined. */
function define(p: Path, names: Map<string, NameDef>, name: string, def: NameDef): void {
  const old = names.get(name);
  if (old !== undefined) p.fail(`a name not defined before (${old.path} defines ${name})`, name);
  names.set(name, def);
}

/** Refuses `name` unless an earlier alloc step defined it (`more` adds to the expectation). */
function earlierAlloc(p: Path, names: ReadonlyMap<string, NameDef>, name: string, more = false): NameDef {
  const src = names.get(name);
  if (src === undefined || src.kind !== "alloc") {
    const allocs = [...names].filter(([, d]) => d.kind === "alloc").map(([n]) => n);
    p.fail(
      `a name defined by an earlier alloc step (${allocs.join(", ") || "none yet"})${more && src !== undefined ? `; ${name} is a root (${src.path})` : ""}`,
      name,
    );
  }
  return src;
}

function interruptsOf(x: InterruptsDoc): InterruptPlan {
  if (x === "none") return { kind: "none" };
  if (x.every !== undefined) return { kind: "every", k: x.every as number };
  return { kind: "random", p: x.random as number, seed: (x.seed as number | undefined) ?? 1 };
}

type InterruptsDoc = "none" | { every?: unknown; random?: unknown; seed?: unknown };
type Doc<K extends StepKey> = v.InferOutput<(typeof STEP_SCHEMAS)[K]>;

/** What converts each step kind of the file into a {@link Step}, with the checks across steps. */
type StepConverters = {
  readonly [K in StepKey]: (p: Path, d: Doc<K>, names: Map<string, NameDef>) => Step;
};

const regsOf = <T>(r: Readonly<Record<string, unknown>> | undefined, f: (name: string, x: unknown) => T) => {
  const out: Record<number, T> = {};
  for (const [name, x] of Object.entries(r ?? {}))
    if (x !== undefined) out[REG[name as keyof typeof REG]] = f(name, x);
  return out;
};

const STEP_CONVERTERS: StepConverters = {
  flow: (_p, d) => ({
    kind: "flow",
    flow: d.flow as FlowName,
    expect: d.expect === undefined ? null : d.expect,
  }),
  seamcall: (p, d, names) => {
    const cpu = d.cpu ?? 0;
    // A custom check: a call queued on another CPU is checked by a join step, not by its own expect.
    if (cpu > 0 && d.expect !== undefined)
      p.key("expect").fail("no expect on a call queued on another CPU (a join step checks it)", d.expect);
    const sc = d.schedule;
    return {
      kind: "seamcall",
      leaf: d.seamcall as LeafName,
      regs: regsOf(d.regs, (name, x) => regValue(p.key("regs").key(name), x, names)),
      expect:
        d.expect === undefined
          ? null
          : {
              status: d.expect.status === undefined ? null : String(d.expect.status),
              regs: regsOf(d.expect.regs, (_, x) => u64Of(x)),
            },
      cpu,
      schedule:
        sc === undefined
          ? null
          : { cpus: sc.cpus ?? Math.max(2, cpu + 1), seed: sc.seed ?? 1, p: sc.p ?? 0.5 },
    };
  },
  alloc: (p, d, names) => {
    const pages = d.pages ?? 1;
    define(p.key("alloc"), names, d.alloc, { kind: "alloc", pages, path: p.text });
    return {
      kind: "alloc",
      name: d.alloc,
      pages,
      order: d.order ?? 0,
      contiguous: d.contiguous ?? false,
      zero: d.zero ?? false,
      compound: d.compound ?? true,
    };
  },
  root: (p, d, names) => {
    const src = earlierAlloc(p.key("of"), names, d.of, true);
    if (src.pages > MODEL_LIMITS.rootEntries)
      p.key("of").fail(
        `an alloc of at most ${MODEL_LIMITS.rootEntries} pages, the entries of one root page (01-formats.md 1.2); ${d.of} has ${src.pages}`,
        d.of,
      );
    define(p.key("root"), names, d.root, { kind: "root", pages: 1, path: p.text });
    return { kind: "root", name: d.root, of: d.of, format: d.format };
  },
  inject: (_p, d) => {
    const i = d.inject as Record<string, unknown>;
    if (i.leaf !== undefined)
      return {
        kind: "inject-status",
        leaf: i.leaf as LeafName,
        nth: i.nth as number,
        status: statusValue(i.status),
      };
    if (i.allocation !== undefined)
      return { kind: "inject-alloc", nth: i.allocation as number, tag: null, count: 1 };
    return {
      kind: "inject-alloc",
      nth: null,
      tag: i.allocationTag as string,
      count: (i.count as number | undefined) ?? 1,
    };
  },
  interrupts: (_p, d) => ({ kind: "interrupts", plan: interruptsOf(d.interrupts as InterruptsDoc) }),
  evict: () => ({ kind: "evict" }),
  clflush: (p, d, names) => {
    earlierAlloc(p.key("clflush"), names, d.clflush);
    return { kind: "clflush", name: d.clflush };
  },
  join: (_p, d) => ({
    kind: "join",
    expect:
      d.expect === undefined
        ? null
        : {
            status: d.expect.status === undefined ? null : String(d.expect.status),
            busyRetries: d.expect.busyRetries ?? null,
          },
  }),
  expect: (_p, d) => ({ kind: "expect", expect: d.expect as StateExpect }),
};

function stepOf(p: Path, d: Record<string, unknown>, names: Map<string, NameDef>): Step {
  const key = stepKeyOf(d)!;
  return (STEP_CONVERTERS[key] as (p: Path, d: unknown, names: Map<string, NameDef>) => Step)(p, d, names);
}

type PlatformDoc = Record<string, unknown> & { base?: string; totalGiB?: number; metadata?: object };

/** The base platform with the file's fields over it, checked by validatePlatform (src/hw/platform.ts). */
function platformOf(p: Path, o: PlatformDoc | undefined): Platform {
  if (o === undefined) return defaultPlatform();
  let plat: Platform;
  if (o.base === "uniform") {
    // A custom check: the size of a uniform platform is required (and only there).
    const gib = o.totalGiB;
    if (gib === undefined) return p.key("totalGiB").fail(`an integer in 1..${UNIFORM_MAX_GIB}`, gib);
    plat = uniformPlatform(gib * 2 ** 30);
  } else {
    if (o.totalGiB !== undefined) p.key("totalGiB").fail("no totalGiB unless base is uniform", o.totalGiB);
    plat = defaultPlatform();
  }
  const merged: Record<string, unknown> = { ...plat };
  for (const [k, x] of Object.entries(o)) {
    if (k === "base" || k === "totalGiB" || x === undefined) continue;
    merged[k] = k === "metadata" ? { ...plat.metadata, ...(x as object) } : x;
  }
  try {
    return validatePlatform(merged as unknown as Platform);
  } catch (e) {
    throw new TdxpaError("bad-format", `${p.text}${(e as Error).message.replace(/^platform/, "")}`);
  }
}

/** The defaults with the file's knobs over them. */
function knobsOf<T extends object>(defaults: T, o: object | undefined): T {
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [k, x] of Object.entries(o ?? {})) if (x !== undefined) out[k] = x;
  return out as T;
}

/**
 * Validates a parsed scenario document and returns the scenario. Throws a typed `bad-format` error
 * naming the path of the first problem and what was expected.
 */
export function parseScenario(doc: unknown): Scenario {
  const r = v.safeParse(SCENARIO_SCHEMA, doc, { abortEarly: true });
  if (!r.success) throw issueError(r.issues[0]);
  const o = r.output;
  const top = new Path("");
  const platform = platformOf(top.key("platform"), o.platform as PlatformDoc | undefined);
  const behaviours = knobsOf(DEFAULT_BEHAVIOURS, o.module?.behaviours);
  const interrupts =
    o.module?.interrupts === undefined
      ? ({ kind: "none" } as const)
      : interruptsOf(o.module.interrupts as InterruptsDoc);
  const policy = knobsOf(DEFAULT_POLICY, o.host?.policy);
  const names = new Map<string, NameDef>();
  const steps = (o.steps as Record<string, unknown>[]).map((s, i) =>
    stepOf(top.key("steps").idx(i), s, names),
  );
  checkScenarioLimits({
    platform,
    iqOrder: policy.iqOrder,
    steps: steps.length,
    allocs: steps.flatMap((st, i) =>
      st.kind === "alloc" ? [{ path: `steps[${i}]`, pages: st.pages, order: st.order }] : [],
    ),
  });
  return { name: o.name, description: o.description ?? "", platform, behaviours, interrupts, policy, steps };
}
