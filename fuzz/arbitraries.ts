/**
 * Structure-aware inputs for the fuzz targets of fuzz/targets.ts, as fast-check
 * arbitraries of byte strings. Each builds its input field by field: valid operands with one field
 * perturbed, root pages of valid entries with one bad entry, entries pointing into reserved areas, the
 * module's range, other objects' pages or unbacked memory, KeyID bits, interrupts on, and plain random
 * bytes. The bytes are what the target reads, so a counterexample is saved and replayed as hex.
 */
import fc from "fast-check";
import {
  encodeHpaArray,
  encodeHpaListInfo,
  encodeIommuMtEntry,
  encodeListEntry,
} from "../src/common/formats.js";
import { LEAF, STATUS } from "../src/common/status.js";
import type { U64 } from "../src/common/u64.js";
import { DEFAULT_SCENARIO_DOC } from "../src/scenario/default.js";
import { ByteWriter } from "./bytes.js";
import { FUZZ_LEAVES, fuzzPlatform } from "./targets.js";

/** A constant token list (mutable type, for tuple mapping). */
const lit = (xs: number[]): fc.Arbitrary<number[]> => fc.constant(xs);

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const byte = fc.integer({ min: 0, max: 255 });

/** Any u64, biased to edges (0, all ones, single bits, small values). */
export const anyU64: fc.Arbitrary<U64> = fc.oneof(
  fc.record({ lo: u32, hi: u32 }),
  fc.constantFrom<U64>({ lo: 0, hi: 0 }, { lo: 0xffff_ffff, hi: 0xffff_ffff }, { lo: 0x1000, hi: 0 }),
  fc
    .integer({ min: 0, max: 63 })
    .map((b) => (b < 32 ? { lo: (1 << b) >>> 0, hi: 0 } : { lo: 0, hi: (1 << (b - 32)) >>> 0 })),
  fc.record({ lo: fc.integer({ min: 0, max: 0xffff }), hi: fc.constant(0) }),
);

/** A 4 KiB aligned HPA below 2^52. */
const alignedHpa = fc.integer({ min: 0, max: 2 ** 40 - 1 }).map((pfn) => pfn * 4096);

/** Flips bit `bit` of a u64 (bit 64 = no flip). */
function flip(v: U64, bit: number): U64 {
  if (bit >= 64) return v;
  return bit < 32
    ? { lo: (v.lo ^ (1 << bit)) >>> 0, hi: v.hi }
    : { lo: v.lo, hi: (v.hi ^ (1 << (bit - 32))) >>> 0 };
}

const maybeFlip = fc.oneof(fc.constant(64), fc.integer({ min: 0, max: 63 }));

const w = () => new ByteWriter();

/** status: random u64s and known statuses with random operand bits or one bit flipped. */
const statusInput = fc
  .oneof(
    anyU64,
    fc
      .tuple(fc.constantFrom(...Object.values(STATUS).map((k) => k.hi)), u32, maybeFlip)
      .map(([hi, lo, b]) => flip({ lo, hi }, b)),
  )
  .map((v) => w().u64(v).done());

/** A valid operand or entry of one of the six kinds, then perhaps one bit flipped. */
const nearValidFormat = fc.integer({ min: 0, max: 5 }).chain((which) => {
  const valid: fc.Arbitrary<U64> =
    which === 0
      ? fc
          .tuple(alignedHpa, fc.integer({ min: 1, max: 512 }), fc.nat())
          .map(([rootHpa, count, f]) => encodeHpaListInfo({ rootHpa, count, firstEntry: f % count }))
      : which === 1
        ? fc
            .tuple(alignedHpa, fc.integer({ min: 1, max: 512 }))
            .map(([h, count]) =>
              count === 1 ? encodeHpaArray({ count, pageHpa: h }) : encodeHpaArray({ count, rootHpa: h }),
            )
        : which === 2 || which === 3
          ? alignedHpa.map((h) => encodeListEntry(h))
          : fc
              .tuple(alignedHpa, fc.integer({ min: 0, max: 11 }))
              .map(([h, o]) => encodeIommuMtEntry(Math.floor(h / (4096 * 2 ** o)) * 4096 * 2 ** o, 2 ** o));
  return fc
    .tuple(fc.constant(which), byte, valid, maybeFlip)
    .map(([k, mode, v, b]) => w().u8(k).u8(mode).u64(flip(v, b)).done());
});

const formatsInput = fc.oneof(
  nearValidFormat,
  fc.tuple(byte, byte, anyU64).map(([k, mode, v]) => w().u8(k).u8(mode).u64(v).done()),
);

/** entries: a root page of valid entries with, sometimes, one bad entry. */
const entriesInput = fc
  .tuple(
    fc.integer({ min: 0, max: 2 }),
    fc.integer({ min: 0, max: 600 }),
    fc.integer({ min: 0, max: 600 }),
    fc.integer({ min: 0, max: 11 }),
    fc.array(alignedHpa, { minLength: 1, maxLength: 40 }),
    fc.option(fc.tuple(fc.nat(), anyU64)),
  )
  .map(([fmt, first, last, q, hpas, bad]) => {
    const wr = w().u8(fmt).u16(first).u16(last).u8(q);
    const entries = hpas.map((h, i) =>
      fmt === 2 && i < 2
        ? encodeIommuMtEntry(Math.floor(h / (4096 << q)) * (4096 << q), 1 << q)
        : encodeListEntry(h),
    );
    if (bad !== null) entries[bad[0] % entries.length] = bad[1];
    for (const e of entries) wr.u64(e);
    return wr.done();
  });

const linkedListInput = fc.uint8Array({ minLength: 0, maxLength: 3000 });

/**
 * u64 text: near-valid numbers (long, signed, underscores, spaces, unicode digits) and any string.
 * Built on first use ({@link ARBITRARIES}): fast-check's `string({ unit: "binary" })` maps every code
 * point back to its index when it is built (1.5 s of CPU to import this file, measured 2026-12-03), and
 * the u64-text target runs on the lean driver unless fast-check is asked for.
 */
const u64Text = () =>
  fc.oneof(
    fc.string(),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.bigInt({ min: 0n, max: 1n << 70n }).map((b) => b.toString()),
    fc.bigInt({ min: 0n, max: 1n << 70n }).map((b) => `0x${b.toString(16)}`),
    fc
      .tuple(
        fc.constantFrom(
          "",
          "-",
          "+",
          " ",
          "0x",
          "0X",
          "0x_",
          "٣",
          "\u0000",
          "NaN",
          "Infinity",
          "1e3",
          "0b1",
          "0o7",
        ),
        fc.stringMatching(/^[0-9a-fA-F_]{0,40}$/),
        fc.constantFrom("", " ", "\n", "n", "_", "\u200b"),
      )
      .map(([a, b, c]) => a + b + c),
  );

const u64TextInput = (): fc.Arbitrary<Uint8Array> =>
  u64Text().map((s) => {
    const wr = w();
    for (let i = 0; i < s.length; i++) wr.u16(s.charCodeAt(i));
    return wr.done();
  });
let u64TextArbitrary: fc.Arbitrary<Uint8Array> | undefined;

function asciiJson(v: unknown): string {
  return (JSON.stringify(v) ?? "null").replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Replaces the value at a random path of `doc` with `v`. */
function mutateAt(doc: unknown, path: readonly number[], v: unknown): unknown {
  if (path.length === 0 || typeof doc !== "object" || doc === null) return v;
  const keys = Object.keys(doc);
  if (keys.length === 0) return v;
  const k = keys[path[0]! % keys.length]!;
  const copy: Record<string, unknown> = Array.isArray(doc)
    ? ([...doc] as unknown as Record<string, unknown>)
    : { ...(doc as Record<string, unknown>) };
  copy[k] = mutateAt((doc as Record<string, unknown>)[k], path.slice(1), v);
  return copy;
}

/** scenario documents: the default scenario with one value replaced, or any JSON. */
const scenarioInput = fc
  .oneof(
    fc
      .tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), fc.jsonValue({ maxDepth: 3 }))
      .map(([path, v]) => mutateAt(DEFAULT_SCENARIO_DOC, path, v)),
    fc.jsonValue({ maxDepth: 4 }),
  )
  .map((doc) => {
    const s = asciiJson(doc);
    const wr = w();
    for (let i = 0; i < s.length; i++) wr.u8(s.charCodeAt(i));
    return wr.done();
  });

// ---- SEAMCALL programs ---------------------------------------------------------------------------

const P = fuzzPlatform().metadata;

/** A page token body: kind (harness page most often), index, perturbation (mostly none). */
const pageToken = fc.tuple(
  fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 5 }) }, { weight: 1, arbitrary: byte }),
  byte,
  fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 15 }) }, { weight: 1, arbitrary: byte }),
);

/** An operand token (9 list info, 10 array, 11 IOMMU_MT) with `count` entries (-1: the module's). */
function operandToken(t: 9 | 10 | 11, count: number): fc.Arbitrary<number[]> {
  const n = count < 0 ? P.IOMMU_MT_PAGE_COUNT + 2 : count;
  const countByte =
    count < 0
      ? fc.integer({ min: 0, max: 199 })
      : fc.oneof({ weight: 5, arbitrary: fc.constant(n - 1) }, { weight: 1, arbitrary: byte });
  // Mostly one base index for every entry (the target adds the entry's position: distinct pages).
  const base = fc.integer({ min: 0, max: 7 }).map((b) => b * 8);
  const entry = (b: number) =>
    fc.oneof(
      { weight: 12, arbitrary: lit([0, b, 0]) },
      { weight: 4, arbitrary: pageToken.map((e) => [...e]) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constant(11), byte, byte, anyU64)
          .map(([k, i, p, v]) => [k, i, p, ...w().u64(v).done()]),
      },
    );
  return fc
    .tuple(
      countByte,
      base.chain((b) => fc.array(entry(b), { minLength: n, maxLength: n })),
      fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 9 }) }, { weight: 1, arbitrary: byte }),
    )
    .map(([c, es, op]) => [t, c, ...es.flat(), op]);
}

/** A random register token of any kind. */
const anyToken: fc.Arbitrary<number[]> = fc
  .integer({ min: 0, max: 255 })
  .chain((t): fc.Arbitrary<number[]> => {
    switch (t % 16) {
      case 1:
        return anyU64.map((v) => [t, ...w().u64(v).done()]);
      case 6:
        return pageToken.map((p) => [t, ...p]);
      case 15:
        return fc.tuple(byte, byte).map(([a, b]) => [t, a, b]);
      case 9:
      case 10:
      case 11:
        return operandToken((t % 16) as 9 | 10 | 11, t % 16 === 11 ? -1 : 1 + (t % 24)).map((x) => [
          t,
          ...x.slice(1),
        ]);
      case 12:
        return fc.tuple(byte, byte).map(([a, b]) => [t, a, b]);
      case 0:
      case 7:
      case 8:
      case 13:
        return lit([t]);
      default:
        return byte.map((b) => [t, b]);
    }
  });

const tok = {
  zero: lit([0]),
  small: (max: number) => fc.integer({ min: 0, max }).map((b) => [2, b]),
  field: byte.map((b) => [3, b]),
  unit: byte.map((b) => [4, b]),
  device: byte.map((b) => [5, b]),
  shared: fc.tuple(byte, byte).map(([i, p]) => [6, 10, i, p % 16]),
  page: pageToken.map((p) => [6, ...p]),
  wbinvd: fc.tuple(byte, byte).map(([k, i]) => [15, k % 6, i]),
  req: lit([7]),
  rsp: lit([8]),
  id: fc.oneof(
    lit([14, 0]),
    fc.integer({ min: 0, max: 3 }).map((b) => [14, b]),
    byte.map((b) => [14, b]),
  ),
  earlierOperand: fc.integer({ min: 0, max: 3 }).map((b) => [14 | 0x10, b]),
  selector: fc.tuple(byte, byte).map(([a, b]) => [12, a % 3, b % 5]),
  ones: lit([13]),
};

/** The usual registers of each leaf, as tokens for RCX, RDX, R8, R9, R10. */
function template(leaf: string): fc.Arbitrary<number[]>[] {
  const z = tok.zero;
  switch (leaf) {
    case "TDH.SYS.RD":
      return [z, tok.field, z, z, z];
    case "TDH.PHYMEM.PAGE.RDMD":
      return [tok.page, z, z, z, z];
    case "TDH.PHYMEM.PAGE.WBINVD":
      return [tok.wbinvd, z, z, z, z];
    case "TDH.EXT.MEM.ADD":
      return [operandToken(9, 8), z, z, z, z];
    case "TDH.IOMMU.SETUP":
      return [tok.unit, operandToken(11, -1), z, z, z];
    case "TDH.IOMMU.CLEAR":
      return [tok.id, fc.oneof(tok.earlierOperand, operandToken(11, -1)), z, z, z];
    case "TDH.SPDM.CREATE":
      return [tok.device, operandToken(10, P.SPDM_MT_PAGE_COUNT), z, z, z];
    case "TDH.SPDM.CONNECT":
      return [tok.id, z, tok.req, tok.rsp, operandToken(10, P.SPDM_MAX_DEV_INFO_PAGES)];
    case "TDH.SPDM.DISCONNECT":
      return [tok.id, z, tok.req, tok.rsp, z];
    case "TDH.SPDM.MNG":
      return [
        tok.id,
        tok.small(3),
        tok.req,
        tok.rsp,
        fc.oneof(tok.ones, operandToken(10, P.SPDM_MAX_DEV_INFO_PAGES)),
      ];
    case "TDH.SPDM.DELETE":
    case "TDH.IDE.STREAM.DELETE":
      return [tok.id, fc.oneof(tok.shared, tok.zero), z, z, z];
    case "TDH.IDE.STREAM.CREATE":
      return [tok.id, tok.selector, operandToken(10, P.IDE_MT_PAGE_COUNT), z, z];
    case "TDH.IDE.STREAM.KM":
      return [tok.id, tok.small(3), tok.req, tok.rsp, z];
    case "TDH.IDE.STREAM.BLOCK":
      return [tok.id, z, z, z, z];
    default:
      return [z, z, z, z, z];
  }
}

/** One step: a known leaf with its usual registers (mostly) or random tokens, or a host action. */
const step: fc.Arbitrary<number[]> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.integer({ min: 0, max: FUZZ_LEAVES.length - 1 }).chain((i) => {
      const leaf = FUZZ_LEAVES[i]!;
      const regs = fc.oneof(
        { weight: 4, arbitrary: fc.tuple(...template(leaf)) },
        { weight: 1, arbitrary: fc.array(anyToken, { minLength: 5, maxLength: 5 }) },
      );
      return regs.map((rs) => [i, ...rs.flat()]);
    }),
  },
  // Forward the module's SPDM request, then re-issue the last call (the usual exchange step).
  { weight: 6, arbitrary: fc.integer({ min: 230, max: 239 }).map((op) => [op]) },
  // Re-issue the last call as returned (resumption).
  { weight: 2, arbitrary: fc.integer({ min: 240, max: 255 }).map((op) => [op]) },
  // An unsupported version, or a raw RAX.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 180, max: 199 }), fc.array(anyToken, { minLength: 5, maxLength: 5 }))
      .map(([op, rs]) => [op, ...rs.flat()]),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(anyU64, fc.array(anyToken, { minLength: 5, maxLength: 5 }))
      .map(([v, rs]) => [200, ...w().u64(v).done(), ...rs.flat()]),
  },
);

const leafIndex = (name: string) => FUZZ_LEAVES.indexOf(name as (typeof FUZZ_LEAVES)[number]);

/** A call of `leaf` with exactly these register tokens. */
function call(leaf: string, ...regs: fc.Arbitrary<number[]>[]): fc.Arbitrary<number[]> {
  return fc.tuple(...regs).map((rs) => [leafIndex(leaf), ...rs.flat()]);
}

/** `n` steps of "forward the request to device d, re-issue" (op ≡ d mod 3, as the target picks). */
const forward = (d: number, n: number): number[] => Array.from({ length: n }, () => 230 + ((d + 1) % 3));

/**
 * A storyline that reaches deep states: an SPDM session with device d (CREATE, CONNECT with its
 * exchange), an IDE stream on its root port (CREATE, KM SETUP), or an IOMMU unit set up, then random
 * steps (which include the teardown leaves) on top.
 */
const story: fc.Arbitrary<number[]> = fc
  .tuple(
    fc.integer({ min: 0, max: 2 }),
    fc.integer({ min: 6, max: 14 }),
    fc.integer({ min: 0, max: 7 }),
    fc.boolean(),
  )
  .chain(([d, nConnect, nKm, iommu]) => {
    const port = d === 2 ? 1 : 0;
    const z = tok.zero;
    const parts: fc.Arbitrary<number[]>[] = [
      call("TDH.SPDM.CREATE", lit([5, d]), operandToken(10, P.SPDM_MT_PAGE_COUNT), z, z, z),
      call("TDH.SPDM.CONNECT", tok.id, z, tok.req, tok.rsp, operandToken(10, P.SPDM_MAX_DEV_INFO_PAGES)),
      fc.constant(forward(d, nConnect)),
      call(
        "TDH.IDE.STREAM.CREATE",
        tok.id,
        lit([12, port, nKm % 4]),
        operandToken(10, P.IDE_MT_PAGE_COUNT),
        z,
        z,
      ),
      call("TDH.IDE.STREAM.KM", tok.id, lit([2, 0]), tok.req, tok.rsp, z),
      fc.constant(forward(d, 5)),
    ];
    if (iommu) parts.unshift(call("TDH.IOMMU.SETUP", lit([4, nKm % 6]), operandToken(11, -1), z, z, z));
    return fc.tuple(
      fc.tuple(...parts),
      fc.array(step, { maxLength: 16 }),
      fc.array(fc.constant(forward(d, 1)), { maxLength: 4 }),
    );
  })
  .map(([head, tail, fw]) => [...head.flat(), ...tail.flatMap((x, i) => [...x, ...(fw[i] ?? [])])]);

/** A whole program: configuration, interrupt argument, steps. */
const seamcallInput = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(byte, byte, story).map(([cfg, arg, s]) => Uint8Array.from([cfg, arg, ...s])),
  },
  {
    weight: 9,
    arbitrary: fc
      .tuple(byte, byte, fc.array(step, { minLength: 1, maxLength: 40 }))
      .map(([cfg, arg, steps]) => Uint8Array.from([cfg, arg, ...steps.flat()])),
  },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 600 }) },
);

/** The arbitrary of each target, by target name. */
export const ARBITRARIES: Readonly<Record<string, fc.Arbitrary<Uint8Array>>> = {
  status: statusInput,
  formats: formatsInput,
  entries: entriesInput,
  "linked-list": linkedListInput,
  get "u64-text"() {
    u64TextArbitrary ??= u64TextInput();
    return u64TextArbitrary;
  },
  "scenario-doc": scenarioInput,
  seamcall: seamcallInput,
};

export { LEAF };
