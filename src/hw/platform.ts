/**
 * A simulated TDX machine: memory ranges, TDMRs with reserved areas, the KeyID layout, the module's
 * metadata values and the IOMMU units (docs/spec/03-module.md 3.2 and 3.6).
 *
 * A platform is plain data (JSON-friendly: numbers below 2^53, no bigint) so users can write their own
 * in scenario files. {@link validatePlatform} checks every rule the spec states and throws a typed error
 * naming the path of the first bad value. {@link defaultPlatform} looks like a two-socket server.
 */
import { rangeError, stateError, typeError } from "../common/errors.js";
import { PAGE_SIZE } from "../common/u64.js";
import {
  defaultDevices,
  defaultRootPorts,
  type PcieDeviceSpec,
  type RootPortSpec,
  validateDevices,
} from "./devices.js";
import type { MemRange } from "./physmem.js";

/** 1 GiB: TDMR base and size granularity. */
export const GIB = 2 ** 30;
/** 1 MiB. */
export const MIB = 2 ** 20;

/** A TDMR: a 1 GiB aligned range the module manages, with up to 16 reserved areas. */
export interface TdmrSpec {
  readonly base: number;
  readonly size: number;
  /** Reserved areas (PT_RSVD): 4 KiB aligned, inside the TDMR, not overlapping, at most 16. */
  readonly reserved: readonly MemRange[];
}

/** Where KeyIDs sit in a physical address and which are TDX's. */
export interface KeyIdLayout {
  /** Lowest KeyID bit: the platform's physical address width (KeyID bits sit above it). */
  readonly shift: number;
  /** Number of KeyID bits (shift + bits ≤ 52). */
  readonly bits: number;
  /** First private (TDX) KeyID; KeyIDs below are host/MKTME shared KeyIDs, 0 being the host's. */
  readonly firstPrivate: number;
  /** Number of private KeyIDs. */
  readonly privateCount: number;
  /** The module's global KeyID (one of the private ones), used for its own control pages. */
  readonly global: number;
}

/** The metadata values TDH.SYS.RD reports (03-module.md 3.3), and the queue order IOMMU_MT uses. */
export interface ModuleMetadata {
  readonly MEMORY_POOL_REQUIRED_PAGES: number;
  readonly EXT_REQUIRED: number;
  readonly IDE_MT_PAGE_COUNT: number;
  readonly SPDM_MT_PAGE_COUNT: number;
  readonly IOMMU_MT_PAGE_COUNT: number;
  readonly SPDM_MAX_DEV_INFO_PAGES: number;
  /** TDX_FEATURES0 bits as a list of bit numbers (6 TDX Connect, 39 extensions, 50 quoting). */
  readonly TDX_FEATURES0_BITS: readonly number[];
  /** Largest quote TDH.QUOTE.GET produces, in bytes (u32; the June 2026 series sizes its buffer by it). */
  readonly MAX_QUOTE_SIZE: number;
  /** Order of each IOMMU queue block: entries 0 and 1 of an IOMMU_MT carry NUM_PAGES = 2^iqOrder. */
  readonly iqOrder: number;
  /**
   * Which ids TDH.SYS.RD serves the pool fields at (03-module.md 3.3): `"both"` (a module model that
   * serves kernels of both vintages; the default), `"rfc-v2"` or `"june"` only. Absent: `"both"`.
   */
  readonly fieldIds?: "both" | "rfc-v2" | "june";
}

/** One DMA remapping unit. */
export interface IommuSpec {
  readonly name: string;
  /** Register base (the physical address the host passes in RCX of TDH.IOMMU.SETUP). */
  readonly regBase: number;
  readonly tdxCapable: boolean;
}

/** A whole simulated machine. */
export interface Platform {
  readonly name: string;
  readonly memory: readonly MemRange[];
  readonly tdmrs: readonly TdmrSpec[];
  /** The module's own range (SEAMRR): never handed to the host, never a valid shared page. */
  readonly moduleRange: MemRange;
  readonly keyIds: KeyIdLayout;
  readonly metadata: ModuleMetadata;
  /** Whether the module requires the host to CLFLUSH pages before handing them over as private. */
  readonly clflushBeforeAlloc: boolean;
  readonly iommus: readonly IommuSpec[];
  /** PCIe devices with a DOE mailbox and an SPDM responder (src/hw/devices.ts); none when absent. */
  readonly devices?: readonly PcieDeviceSpec[];
  /** PCIe root ports with IDE stream slots; none when absent. */
  readonly rootPorts?: readonly RootPortSpec[];
}

/** Metadata field ids for TDH.SYS.RD (03-module.md 3.3), as hex strings of the u64. */
export const METADATA_FIELD_IDS = Object.freeze({
  MEMORY_POOL_REQUIRED_PAGES: "0x3100000200000000",
  EXT_REQUIRED: "0x3100000000000001",
  IDE_MT_PAGE_COUNT: "0x3000000100000001",
  SPDM_MT_PAGE_COUNT: "0x3000000100000002",
  IOMMU_MT_PAGE_COUNT: "0x3000000100000003",
  SPDM_MAX_DEV_INFO_PAGES: "0x3000000100000007",
  TDX_FEATURES0: "0x0A00000300000008",
  MAX_QUOTE_SIZE: "0x2300000200000002",
});

/**
 * The pool fields' ids of the RFC–v2 TDX Connect series (03-module.md 3.3): MEMORY_POOL_REQUIRED_PAGES
 * as a u16, EXT_REQUIRED. {@link METADATA_FIELD_IDS} holds the June 2026 ids of the same fields.
 */
export const RFC_V2_FIELD_IDS = Object.freeze({
  MEMORY_POOL_REQUIRED_PAGES: "0x3100000100000000",
  EXT_REQUIRED: "0x3100000100000001",
});

/** TDX_FEATURES0 bit numbers. */
export const FEATURE_BITS = Object.freeze({ TDX_CONNECT: 6, EXTENSIONS: 39, QUOTING: 50 });

/** The module's metadata field ids, by name. */
export type MetadataFieldName = keyof typeof METADATA_FIELD_IDS;

/**
 * The default platform: a two-socket server with 512 GiB of memory in two sockets (plus the low 2 GiB
 * below the PCI hole), three TDMRs whose reserved areas hold the PAMT and the module's range, 64 KeyIDs
 * of which 16 are TDX's, and six IOMMU units of which two (the integrated graphics and a legacy unit)
 * are not TDX-capable. Metadata values are the late-2025 figures of 02-kapi.md 2.5. Three PCIe devices
 * (an NVMe SSD, a NIC, a GPU) sit behind two root ports with four IDE stream slots each.
 */
export function defaultPlatform(): Platform {
  // Physical layout: [0, 2 GiB) low memory, [4 GiB, 258 GiB) socket 0, [258 GiB, 514 GiB) socket 1.
  // The module's range sits at the top of low memory; each socket's PAMT (16 B per 4 KiB page is
  // what 1/256 of memory approximates) sits at the start of its socket.
  const low: MemRange = { base: 0, size: 2 * GIB };
  const s0: MemRange = { base: 4 * GIB, size: 254 * GIB };
  const s1: MemRange = { base: 258 * GIB, size: 256 * GIB };
  const moduleRange: MemRange = { base: 2 * GIB - 64 * MIB, size: 64 * MIB };
  const pamt = (r: MemRange): MemRange => ({
    base: r.base,
    size: Math.ceil(r.size / 256 / PAGE_SIZE) * PAGE_SIZE,
  });
  return {
    name: "default-2s-512g",
    memory: [low, s0, s1],
    tdmrs: [
      { base: 0, size: 2 * GIB, reserved: [{ base: 0, size: MIB }, moduleRange] },
      { base: s0.base, size: s0.size, reserved: [pamt(s0)] },
      { base: s1.base, size: s1.size, reserved: [pamt(s1)] },
    ],
    moduleRange,
    keyIds: { shift: 46, bits: 6, firstPrivate: 48, privateCount: 16, global: 48 },
    metadata: {
      MEMORY_POOL_REQUIRED_PAGES: 12_800,
      EXT_REQUIRED: 1,
      IDE_MT_PAGE_COUNT: 4,
      SPDM_MT_PAGE_COUNT: 8,
      IOMMU_MT_PAGE_COUNT: 16,
      SPDM_MAX_DEV_INFO_PAGES: 4,
      TDX_FEATURES0_BITS: [FEATURE_BITS.TDX_CONNECT, FEATURE_BITS.EXTENSIONS, FEATURE_BITS.QUOTING],
      MAX_QUOTE_SIZE: 4 * MIB,
      iqOrder: 1,
      fieldIds: "both",
    },
    clflushBeforeAlloc: true,
    iommus: [
      { name: "dmar0-socket0-pcie0", regBase: 0xfec1_0000, tdxCapable: true },
      { name: "dmar1-socket0-pcie1", regBase: 0xfec1_1000, tdxCapable: true },
      { name: "dmar2-socket0-igfx", regBase: 0xfec1_2000, tdxCapable: false },
      { name: "dmar3-socket1-pcie0", regBase: 0xfec2_0000, tdxCapable: true },
      { name: "dmar4-socket1-pcie1", regBase: 0xfec2_1000, tdxCapable: true },
      { name: "dmar5-socket1-legacy", regBase: 0xfec2_2000, tdxCapable: false },
    ],
    devices: defaultDevices(),
    rootPorts: defaultRootPorts(),
  };
}

/**
 * A platform of `totalBytes` of memory in one TDMR starting at 4 GiB (plus low memory for the module's
 * range), with the default metadata and IOMMUs: for size experiments such as a 1 TiB host.
 */
export function uniformPlatform(totalBytes: number, overrides: Partial<Platform> = {}): Platform {
  const d = defaultPlatform();
  if (
    typeof totalBytes !== "number" ||
    !Number.isInteger(totalBytes) ||
    totalBytes < GIB ||
    totalBytes % GIB !== 0
  ) {
    throw rangeError("platform.totalBytes", totalBytes, "a whole number of GiB, at least 1 GiB");
  }
  const main: MemRange = { base: 4 * GIB, size: totalBytes };
  return {
    ...d,
    name: `uniform-${totalBytes / GIB}g`,
    memory: [{ base: 0, size: 2 * GIB }, main],
    tdmrs: [
      d.tdmrs[0]!,
      {
        base: main.base,
        size: main.size,
        reserved: [{ base: main.base, size: Math.ceil(main.size / 256 / PAGE_SIZE) * PAGE_SIZE }],
      },
    ],
    ...overrides,
  };
}

/** An inclusive integer range of a platform field. */
export interface IntRange {
  readonly min: number;
  readonly max: number;
}

/**
 * The limits of the platform's fields that depend on no other field (03-module.md 3.2 and 3.3): read by
 * {@link validatePlatform} and by the scenario file's schema (src/scenario/schema-def.ts), which states
 * the same shapes for editors. What depends on another field (KeyID bits against the shift, a range's
 * end, overlaps) only validatePlatform checks.
 */
export const PLATFORM_LIMITS = Object.freeze({
  /** Physical addresses and range ends stay below 2^52. */
  addressBits: 52,
  /** Reserved areas (PT_RSVD) per TDMR. */
  tdmrReservedMax: 16,
  /** The KeyID shift: the physical address width. */
  keyIdShift: { min: 32, max: 51 } as IntRange,
  /** A TDX_FEATURES0 bit number. */
  featureBit: { min: 0, max: 63 } as IntRange,
  /** Which ids TDH.SYS.RD serves the pool fields at. */
  fieldIds: ["both", "rfc-v2", "june"] as const,
  /** The numeric metadata fields. */
  metadata: Object.freeze({
    MEMORY_POOL_REQUIRED_PAGES: { min: 0, max: 0xffff_ffff },
    EXT_REQUIRED: { min: 0, max: 1 },
    IDE_MT_PAGE_COUNT: { min: 1, max: 512 },
    SPDM_MT_PAGE_COUNT: { min: 1, max: 512 },
    IOMMU_MT_PAGE_COUNT: { min: 0, max: 510 },
    SPDM_MAX_DEV_INFO_PAGES: { min: 1, max: 512 },
    iqOrder: { min: 1, max: 10 },
    MAX_QUOTE_SIZE: { min: PAGE_SIZE, max: 0xffff_ffff },
  } satisfies Record<string, IntRange>),
});

const ADDRESS_LIMIT = 2 ** PLATFORM_LIMITS.addressBits;

/**
 * What validatePlatform's messages say is allowed, for the checks the scenario schema states too (its
 * messages must read the same).
 */
export const PLATFORM_ALLOWED = Object.freeze({
  range: "{ base, size }",
  base: (align: number) => `a multiple of 0x${align.toString(16)} below 2^${PLATFORM_LIMITS.addressBits}`,
  size: (align: number) =>
    `a positive multiple of 0x${align.toString(16)} ending below 2^${PLATFORM_LIMITS.addressBits}`,
  memory: "a non-empty array of ranges",
  tdmrs: "a non-empty array of TDMRs",
  reserved: `an array of at most ${PLATFORM_LIMITS.tdmrReservedMax} reserved areas`,
  object: "an object",
  name: "a non-empty string",
  boolean: "a boolean",
  array: "an array",
  featureBits: "an array of bit numbers",
  fieldIds: `${PLATFORM_LIMITS.fieldIds
    .slice(0, -1)
    .map((x) => JSON.stringify(x))
    .join(", ")} or ${JSON.stringify(PLATFORM_LIMITS.fieldIds.at(-1))}`,
  iommu: "{ name, regBase, tdxCapable }",
  regBase: `a 4 KiB aligned address below 2^${PLATFORM_LIMITS.addressBits}`,
});

function checkRange(path: string, r: unknown, align: number): MemRange {
  if (typeof r !== "object" || r === null) throw typeError(path, r, PLATFORM_ALLOWED.range);
  const { base, size } = r as { base?: unknown; size?: unknown };
  if (
    typeof base !== "number" ||
    !Number.isSafeInteger(base) ||
    base < 0 ||
    base % align !== 0 ||
    base >= ADDRESS_LIMIT
  ) {
    throw rangeError(`${path}.base`, base, PLATFORM_ALLOWED.base(align));
  }
  if (
    typeof size !== "number" ||
    !Number.isSafeInteger(size) ||
    size <= 0 ||
    size % align !== 0 ||
    base + size > ADDRESS_LIMIT
  ) {
    throw rangeError(`${path}.size`, size, PLATFORM_ALLOWED.size(align));
  }
  return { base, size };
}

const inside = (a: MemRange, b: MemRange) => a.base >= b.base && a.base + a.size <= b.base + b.size;
const overlaps = (a: MemRange, b: MemRange) => a.base < b.base + b.size && b.base < a.base + a.size;

function checkCountField(path: string, v: unknown, min: number, max: number): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw rangeError(path, v, `${min}..${max}`);
}

/**
 * Checks a platform against the rules of 03-module.md 3.2 and returns it. Throws a typed error naming
 * the path (e.g. `platform.tdmrs[1].reserved[0].base`) and the allowed range of the first bad value.
 */
export function validatePlatform(p: Platform): Platform {
  if (typeof p !== "object" || p === null) throw typeError("platform", p, PLATFORM_ALLOWED.object);
  if (typeof p.name !== "string" || p.name.length === 0)
    throw typeError("platform.name", p.name, PLATFORM_ALLOWED.name);
  if (!Array.isArray(p.memory) || p.memory.length === 0)
    throw typeError("platform.memory", p.memory, PLATFORM_ALLOWED.memory);
  const mem = p.memory.map((r, i) => checkRange(`platform.memory[${i}]`, r, PAGE_SIZE));
  mem.forEach((r, i) => {
    const j = mem.findIndex((o, k) => k < i && overlaps(r, o));
    if (j >= 0)
      throw rangeError(
        `platform.memory[${i}]`,
        `0x${r.base.toString(16)}`,
        `a range not overlapping memory[${j}]`,
      );
  });
  if (!Array.isArray(p.tdmrs) || p.tdmrs.length === 0)
    throw typeError("platform.tdmrs", p.tdmrs, PLATFORM_ALLOWED.tdmrs);
  p.tdmrs.forEach((t, i) => {
    const path = `platform.tdmrs[${i}]`;
    const r = checkRange(path, t, GIB);
    if (!mem.some((m) => inside(r, m)))
      throw rangeError(
        path,
        `0x${r.base.toString(16)}+0x${r.size.toString(16)}`,
        "a range inside one memory range",
      );
    p.tdmrs.forEach((o, j) => {
      if (j < i && overlaps(r, o))
        throw rangeError(path, `0x${r.base.toString(16)}`, `a range not overlapping tdmrs[${j}]`);
    });
    const reserved: readonly MemRange[] = t.reserved;
    if (!Array.isArray(reserved) || reserved.length > PLATFORM_LIMITS.tdmrReservedMax)
      throw rangeError(`${path}.reserved`, reserved, PLATFORM_ALLOWED.reserved);
    reserved.forEach((ra, k) => {
      const rr = checkRange(`${path}.reserved[${k}]`, ra, PAGE_SIZE);
      if (!inside(rr, r))
        throw rangeError(`${path}.reserved[${k}]`, `0x${rr.base.toString(16)}`, "an area inside its TDMR");
      reserved.forEach((o, j) => {
        if (j < k && overlaps(rr, o))
          throw rangeError(
            `${path}.reserved[${k}]`,
            `0x${rr.base.toString(16)}`,
            `an area not overlapping reserved[${j}]`,
          );
      });
    });
  });
  const mr = checkRange("platform.moduleRange", p.moduleRange, PAGE_SIZE);
  if (!mem.some((m) => inside(mr, m)))
    throw rangeError("platform.moduleRange", `0x${mr.base.toString(16)}`, "a range inside memory");
  for (const [i, t] of p.tdmrs.entries()) {
    if (overlaps(mr, t) && !t.reserved.some((ra: MemRange) => inside(mr, ra))) {
      throw rangeError(
        "platform.moduleRange",
        `0x${mr.base.toString(16)}`,
        `outside every TDMR or inside a reserved area (tdmrs[${i}])`,
      );
    }
  }
  const k = p.keyIds;
  if (typeof k !== "object" || k === null) throw typeError("platform.keyIds", k, PLATFORM_ALLOWED.object);
  checkCountField(
    "platform.keyIds.shift",
    k.shift,
    PLATFORM_LIMITS.keyIdShift.min,
    PLATFORM_LIMITS.keyIdShift.max,
  );
  checkCountField("platform.keyIds.bits", k.bits, 1, PLATFORM_LIMITS.addressBits - k.shift);
  for (const r of mem) {
    if (r.base + r.size > 2 ** k.shift)
      throw rangeError(
        "platform.memory",
        `0x${(r.base + r.size).toString(16)}`,
        `ranges below 2^${k.shift} (the KeyID shift)`,
      );
  }
  const nKeys = 2 ** k.bits;
  checkCountField("platform.keyIds.firstPrivate", k.firstPrivate, 1, nKeys - 1);
  checkCountField("platform.keyIds.privateCount", k.privateCount, 1, nKeys - k.firstPrivate);
  checkCountField("platform.keyIds.global", k.global, k.firstPrivate, k.firstPrivate + k.privateCount - 1);
  const md = p.metadata;
  if (typeof md !== "object" || md === null)
    throw typeError("platform.metadata", md, PLATFORM_ALLOWED.object);
  for (const [name, r] of Object.entries(PLATFORM_LIMITS.metadata))
    checkCountField(
      `platform.metadata.${name}`,
      md[name as keyof typeof PLATFORM_LIMITS.metadata],
      r.min,
      r.max,
    );
  if (md.fieldIds !== undefined && !PLATFORM_LIMITS.fieldIds.includes(md.fieldIds))
    throw rangeError("platform.metadata.fieldIds", md.fieldIds, PLATFORM_ALLOWED.fieldIds);
  if (!Array.isArray(md.TDX_FEATURES0_BITS))
    throw typeError(
      "platform.metadata.TDX_FEATURES0_BITS",
      md.TDX_FEATURES0_BITS,
      PLATFORM_ALLOWED.featureBits,
    );
  for (const [i, b] of md.TDX_FEATURES0_BITS.entries()) {
    const { min, max } = PLATFORM_LIMITS.featureBit;
    checkCountField(`platform.metadata.TDX_FEATURES0_BITS[${i}]`, b, min, max);
  }
  if (typeof p.clflushBeforeAlloc !== "boolean")
    throw typeError("platform.clflushBeforeAlloc", p.clflushBeforeAlloc, PLATFORM_ALLOWED.boolean);
  if (!Array.isArray(p.iommus)) throw typeError("platform.iommus", p.iommus, PLATFORM_ALLOWED.array);
  const bases = new Set<number>();
  p.iommus.forEach((u, i) => {
    if (typeof u !== "object" || u === null)
      throw typeError(`platform.iommus[${i}]`, u, PLATFORM_ALLOWED.iommu);
    if (typeof u.name !== "string" || u.name === "")
      throw typeError(`platform.iommus[${i}].name`, u.name, PLATFORM_ALLOWED.name);
    if (
      typeof u.regBase !== "number" ||
      !Number.isSafeInteger(u.regBase) ||
      u.regBase < 0 ||
      u.regBase % PAGE_SIZE !== 0 ||
      u.regBase >= ADDRESS_LIMIT
    ) {
      throw rangeError(`platform.iommus[${i}].regBase`, u.regBase, PLATFORM_ALLOWED.regBase);
    }
    if (bases.has(u.regBase))
      throw stateError(
        `platform.iommus[${i}].regBase`,
        `0x${u.regBase.toString(16)} is used by another unit`,
      );
    bases.add(u.regBase);
    if (typeof u.tdxCapable !== "boolean")
      throw typeError(`platform.iommus[${i}].tdxCapable`, u.tdxCapable, PLATFORM_ALLOWED.boolean);
  });
  validateDevices(p.devices, p.rootPorts);
  return p;
}

/**
 * PFN ranges the host's allocator must never hand out: every TDMR reserved area and the module's
 * range, merged where they overlap (a reserved area holding the module's range is withheld whole, not
 * only the module's part), sorted by address.
 */
export function hostReservedPfnRanges(p: Platform): { startPfn: number; pages: number }[] {
  const all: MemRange[] = [p.moduleRange];
  for (const t of p.tdmrs) for (const r of t.reserved) all.push(r);
  all.sort((a, b) => a.base - b.base);
  const merged: { base: number; end: number }[] = [];
  for (const r of all) {
    const last = merged[merged.length - 1];
    if (last !== undefined && r.base <= last.end) last.end = Math.max(last.end, r.base + r.size);
    else merged.push({ base: r.base, end: r.base + r.size });
  }
  return merged.map((r) => ({ startPfn: r.base / PAGE_SIZE, pages: (r.end - r.base) / PAGE_SIZE }));
}

/** Total pages of a platform's memory. */
export function platformPages(p: Platform): number {
  return p.memory.reduce((s, r) => s + r.size / PAGE_SIZE, 0);
}
