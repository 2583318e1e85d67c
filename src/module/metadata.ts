/**
 * Global metadata and module configuration (docs/spec/03-module.md 3.3): the table of fields
 * TDH.SYS.RD serves, TDH.SYS.RD itself and TDH.SYS.CONFIG.
 *
 * TDH.SYS.RD (34): RDX = field id → R8 = value, RDX = the next readable field id (all ones after the
 * last), as TDX Module 1.5 does so a host can enumerate: field id 0 returns the first readable field. An
 * id no field has → TDX_METADATA_FIELD_ID_INCORRECT (0xC0000C0000000000, no operand id); a known field
 * that cannot be read now (a feature field before SYS.CONFIG) →
 * TDX_METADATA_FIELD_NOT_READABLE (ledger `sys-config`). The element size is bits 33:32 of the id
 * (0 u8, 1 u16, 2 u32, 3 u64); a value is masked to it. The pool fields exist at two ids (the RFC–v2 and
 * June 2026 vintages); the platform's `metadata.fieldIds` says which the module serves (default both).
 *
 * TDH.SYS.CONFIG (45), version 0 or 1: R8 = the global KeyID (must be the platform's, else
 * OPERAND_INVALID R8), R9 (version 1) = the features to enable: only bits TDX_FEATURES0 advertises (else
 * OPERAND_INVALID R9); bit 39 (Extensions) has no effect, Extensions come with TDX Connect (bit 6); R11 =
 * wall-clock seconds, accepted and ignored; RCX/RDX (the TDMR list) are not modelled: the TDMRs are the
 * platform's. A second SYS.CONFIG → TDX_OP_STATE_INCORRECT (ledger `sys-config`).
 */
import { LEAF, REG, STATUS } from "../common/status.js";
import { parseU64, setBits, type U64, U64_ONES, u64FromNumber, u64ToHex } from "../common/u64.js";
import { FEATURE_BITS, METADATA_FIELD_IDS, type Platform, RFC_V2_FIELD_IDS } from "../hw/platform.js";
import { type CallContext, SUCCESS, st, type TdxModule } from "./emulator.js";
import { fail, type LeafTable } from "./leaf-table.js";

/** One global metadata field the module serves. */
export interface MetadataField {
  readonly name: string;
  /** The field id as a hex string of the u64. */
  readonly id: string;
  /** Valid only after SYS.CONFIG (the pool size, EXT_REQUIRED, the Connect page counts). */
  readonly feature: boolean;
  /** Which `platform.metadata.fieldIds` choices serve it (null: every platform). */
  readonly vintage: "rfc-v2" | "june" | null;
  readonly value: (p: Platform) => U64;
}

/** The TDX Module 1.5 version the model reports (ledger `module-version`). */
export const MODULE_VERSION = Object.freeze({
  major: 1,
  minor: 5,
  update: 0,
  internal: 0,
  buildNum: 1,
  buildDate: 20260601,
});

const num = (v: number) => () => u64FromNumber(v);
const md =
  (
    k:
      | "IDE_MT_PAGE_COUNT"
      | "SPDM_MT_PAGE_COUNT"
      | "IOMMU_MT_PAGE_COUNT"
      | "SPDM_MAX_DEV_INFO_PAGES"
      | "MEMORY_POOL_REQUIRED_PAGES"
      | "EXT_REQUIRED"
      | "MAX_QUOTE_SIZE",
  ) =>
  (p: Platform) =>
    u64FromNumber(p.metadata[k]);

function features0(p: Platform): U64 {
  let v = { lo: 0, hi: 0 };
  for (const b of p.metadata.TDX_FEATURES0_BITS) v = setBits(v.lo, v.hi, b, 1, 1);
  return v;
}

/** Every field, in ascending id order (the enumeration order). */
export const METADATA_FIELDS: readonly MetadataField[] = (
  [
    {
      name: "MINOR_VERSION",
      id: "0x0800000100000003",
      feature: false,
      vintage: null,
      value: num(MODULE_VERSION.minor),
    },
    {
      name: "MAJOR_VERSION",
      id: "0x0800000100000004",
      feature: false,
      vintage: null,
      value: num(MODULE_VERSION.major),
    },
    {
      name: "UPDATE_VERSION",
      id: "0x0800000100000005",
      feature: false,
      vintage: null,
      value: num(MODULE_VERSION.update),
    },
    {
      name: "INTERNAL_VERSION",
      id: "0x0800000100000006",
      feature: false,
      vintage: null,
      value: num(MODULE_VERSION.internal),
    },
    { name: "SYS_ATTRIBUTES", id: "0x0A00000200000000", feature: false, vintage: null, value: num(0) },
    {
      name: "TDX_FEATURES0",
      id: METADATA_FIELD_IDS.TDX_FEATURES0,
      feature: false,
      vintage: null,
      value: features0,
    },
    {
      name: "MAX_QUOTE_SIZE",
      id: METADATA_FIELD_IDS.MAX_QUOTE_SIZE,
      feature: false,
      vintage: null,
      value: md("MAX_QUOTE_SIZE"),
    },
    {
      name: "IDE_MT_PAGE_COUNT",
      id: METADATA_FIELD_IDS.IDE_MT_PAGE_COUNT,
      feature: true,
      vintage: null,
      value: md("IDE_MT_PAGE_COUNT"),
    },
    {
      name: "SPDM_MT_PAGE_COUNT",
      id: METADATA_FIELD_IDS.SPDM_MT_PAGE_COUNT,
      feature: true,
      vintage: null,
      value: md("SPDM_MT_PAGE_COUNT"),
    },
    {
      name: "IOMMU_MT_PAGE_COUNT",
      id: METADATA_FIELD_IDS.IOMMU_MT_PAGE_COUNT,
      feature: true,
      vintage: null,
      value: md("IOMMU_MT_PAGE_COUNT"),
    },
    {
      name: "SPDM_MAX_DEV_INFO_PAGES",
      id: METADATA_FIELD_IDS.SPDM_MAX_DEV_INFO_PAGES,
      feature: true,
      vintage: null,
      value: md("SPDM_MAX_DEV_INFO_PAGES"),
    },
    {
      name: "EXT_REQUIRED",
      id: METADATA_FIELD_IDS.EXT_REQUIRED,
      feature: true,
      vintage: "june",
      value: md("EXT_REQUIRED"),
    },
    {
      name: "MEMORY_POOL_REQUIRED_PAGES",
      id: RFC_V2_FIELD_IDS.MEMORY_POOL_REQUIRED_PAGES,
      feature: true,
      vintage: "rfc-v2",
      value: md("MEMORY_POOL_REQUIRED_PAGES"),
    },
    {
      name: "EXT_REQUIRED",
      id: RFC_V2_FIELD_IDS.EXT_REQUIRED,
      feature: true,
      vintage: "rfc-v2",
      value: md("EXT_REQUIRED"),
    },
    {
      name: "MEMORY_POOL_REQUIRED_PAGES",
      id: METADATA_FIELD_IDS.MEMORY_POOL_REQUIRED_PAGES,
      feature: true,
      vintage: "june",
      value: md("MEMORY_POOL_REQUIRED_PAGES"),
    },
    {
      name: "BUILD_NUM",
      id: "0x8800000100000002",
      feature: false,
      vintage: null,
      value: num(MODULE_VERSION.buildNum),
    },
    {
      name: "BUILD_DATE",
      id: "0x8800000200000001",
      feature: false,
      vintage: null,
      value: num(MODULE_VERSION.buildDate),
    },
    {
      name: "NUM_CMRS",
      id: "0x9000000100000000",
      feature: false,
      vintage: null,
      value: (p) => u64FromNumber(p.memory.length),
    },
    {
      name: "MAX_TDMRS",
      id: "0x9100000100000008",
      feature: false,
      vintage: null,
      value: (p) => u64FromNumber(Math.max(64, p.tdmrs.length)),
    },
    {
      name: "MAX_RESERVED_PER_TDMR",
      id: "0x9100000100000009",
      feature: false,
      vintage: null,
      value: num(16),
    },
    { name: "PAMT_4K_ENTRY_SIZE", id: "0x9100000100000010", feature: false, vintage: null, value: num(16) },
    { name: "PAMT_2M_ENTRY_SIZE", id: "0x9100000100000011", feature: false, vintage: null, value: num(16) },
    { name: "PAMT_1G_ENTRY_SIZE", id: "0x9100000100000012", feature: false, vintage: null, value: num(16) },
  ] satisfies MetadataField[]
)
  .map((f) => ({ ...f, id: f.id.toLowerCase() }))
  .sort((a, b) => parseU64(a.id).hi - parseU64(b.id).hi || parseU64(a.id).lo - parseU64(b.id).lo);

/** The module's configuration state: whether SYS.CONFIG ran, and the features it enabled. */
export interface ConfigState {
  configured: boolean;
  /** TDX_FEATURES0 bits enabled by SYS.CONFIG. */
  features: U64;
}

const configStates = new WeakMap<TdxModule, ConfigState>();

/** The configuration state of module `mod` (it starts configured under behaviour `startConfigured`). */
export function configState(mod: TdxModule): ConfigState {
  let s = configStates.get(mod);
  if (s === undefined) {
    const start = mod.behaviours.startConfigured;
    s = { configured: start, features: start ? features0(mod.platform) : { lo: 0, hi: 0 } };
    configStates.set(mod, s);
  }
  return s;
}

function served(mod: TdxModule, f: MetadataField): boolean {
  const v = mod.platform.metadata.fieldIds ?? "both";
  return f.vintage === null || v === "both" || v === f.vintage;
}

function readable(mod: TdxModule, f: MetadataField): boolean {
  return !f.feature || configState(mod).configured;
}

/** The value of field `f` masked to its element size (bits 33:32 of its id). */
function sized(f: MetadataField, p: Platform): U64 {
  const v = f.value(p);
  const size = parseU64(f.id).hi & 3;
  if (size === 3) return v;
  return { lo: size === 2 ? v.lo >>> 0 : v.lo & (size === 1 ? 0xffff : 0xff), hi: 0 };
}

/** TDH.SYS.RD (see the file's doc). */
function tdhSysRd(mod: TdxModule, c: CallContext): U64 {
  const id = u64ToHex(c.regs.lo(REG.RDX), c.regs.hi(REG.RDX));
  const fields = METADATA_FIELDS.filter((f) => served(mod, f));
  const enumerate = c.regs.lo(REG.RDX) === 0 && c.regs.hi(REG.RDX) === 0;
  const at = enumerate ? fields.findIndex((f) => readable(mod, f)) : fields.findIndex((f) => f.id === id);
  if (at < 0) return st(STATUS.TDX_METADATA_FIELD_ID_INCORRECT);
  const f = fields[at]!;
  if (!readable(mod, f)) return st(STATUS.TDX_METADATA_FIELD_NOT_READABLE);
  const next = fields.slice(at + 1).find((g) => readable(mod, g));
  c.regs.set(REG.R8, sized(f, mod.platform));
  c.regs.set(REG.RDX, next === undefined ? U64_ONES : parseU64(next.id));
  return SUCCESS;
}

/** TDH.SYS.CONFIG (see the file's doc). */
function tdhSysConfig(mod: TdxModule, c: CallContext): U64 {
  const s = configState(mod);
  if (s.configured) return st(STATUS.TDX_OP_STATE_INCORRECT);
  if (c.regs.hi(REG.R8) !== 0 || c.regs.lo(REG.R8) !== mod.platform.keyIds.global)
    return st(STATUS.TDX_OPERAND_INVALID, REG.R8);
  let want = { lo: 0, hi: 0 };
  if (c.version >= 1) {
    const adv = features0(mod.platform);
    const lo = c.regs.lo(REG.R9);
    const hi = c.regs.hi(REG.R9);
    if ((lo & ~adv.lo) !== 0 || (hi & ~adv.hi) !== 0) return st(STATUS.TDX_OPERAND_INVALID, REG.R9);
    // Bit 39 (Extensions) has no effect: Extensions come with TDX Connect.
    want = setBits(lo, hi, FEATURE_BITS.EXTENSIONS, 1, 0);
  }
  s.configured = true;
  s.features = want;
  return SUCCESS;
}

/** The descriptors of this file's leaves (gathered by `leaves.ts`). */
export const METADATA_LEAVES = {
  "TDH.SYS.RD": {
    name: "TDH.SYS.RD",
    number: LEAF["TDH.SYS.RD"],
    maxVersion: 0,
    inputs: [[REG.RDX, "field-id"]],
    outputs: [[REG.R8, "u64"]],
    // An unknown field id; a feature field before SYS.CONFIG.
    fails: [fail("TDX_METADATA_FIELD_ID_INCORRECT"), fail("TDX_METADATA_FIELD_NOT_READABLE")],
    resume: "uninterrupted",
    extensionQueue: false,
    run: tdhSysRd,
    abort: null,
  },
  "TDH.SYS.CONFIG": {
    name: "TDH.SYS.CONFIG",
    number: LEAF["TDH.SYS.CONFIG"],
    // Version 1 adds R9 (the features to enable).
    maxVersion: 1,
    inputs: [
      [REG.R8, "id"],
      [REG.R9, "u64"],
    ],
    outputs: [],
    // Configured already; the global KeyID (R8); a feature the module lacks (R9).
    fails: [
      fail("TDX_OP_STATE_INCORRECT"),
      fail("TDX_OPERAND_INVALID", REG.R8),
      fail("TDX_OPERAND_INVALID", REG.R9),
    ],
    resume: "uninterrupted",
    extensionQueue: false,
    run: tdhSysConfig,
    abort: null,
  },
} satisfies Partial<LeafTable>;
