/**
 * The shapes `tdxpa vectors` writes (docs/VECTORS.md): format, status and descriptor vectors and the set
 * that holds them, with the file names and the layout version. Plain data, no logic.
 */
import type { FormatKind } from "../common/format-table.js";
import type { Rule } from "../common/formats.js";
import type { StatusInfo } from "../common/status.js";

/** Version of the vector file layout (JSON schema and header structs); bumped on any change to either. */
export const VECTORS_VERSION = 1;
/** Seed used when none is given. */
export const DEFAULT_SEED = 1;
/** File names `tdxpa vectors` writes into its output directory. */
export const JSON_FILE = "tdx-page-array-vectors.json";
export const HEADER_FILE = "tdx_page_array_vectors.h";

/** The u64 kinds a format vector can be: the kinds of the format table. */
export type { FormatKind };

/**
 * Where a vector comes from. `random-*` vectors depend on the seed; all others are the same for every
 * seed. `random-valid` is built from random fields by the encoders, `random-raw` is 64 random bits,
 * `random-bitflip` a valid value with one random bit flipped.
 */
export type Origin =
  | "worked"
  | "boundary"
  | "reserved-bit"
  | "random-valid"
  | "random-raw"
  | "random-bitflip";

/** A JSON scalar. */
export type JsonScalar = string | number | boolean | null;

/** The broken rule as a vector records it: formats.ts's {@link Violation}, keys in a fixed order. */
export interface VectorViolation {
  readonly rule: Rule;
  readonly ref: string;
  readonly field?: string;
  readonly bits?: string;
  readonly entry?: number;
  readonly message: string;
}

/** One format vector: a u64 of `kind` and what a decoder must make of it. */
export interface FormatVector {
  readonly kind: FormatKind;
  /** The value, `0x` + 16 lowercase hex digits. */
  readonly raw: string;
  readonly origin: Origin;
  /** One line saying what the value is. */
  readonly note: string;
  /** True when no rule of 01-formats.md 1.4 (1, 2, 4) fails. */
  readonly valid: boolean;
  /** The decoded fields (also for invalid values); addresses as `0x` + 16 hex digits. */
  readonly fields: Readonly<Record<string, JsonScalar>>;
  readonly violation: VectorViolation | null;
}

/** One status vector: a RAX value and its decoded fields (03-module.md 3.1). */
export interface StatusVector {
  readonly raw: string;
  readonly origin: Origin;
  readonly note: string;
  readonly fields: Omit<StatusInfo, "raw">;
}

/** One page handed to `tdx_page_array_create`: its PFN and block order. */
export interface VectorPage {
  readonly pfn: string;
  readonly order: number;
}

/** One descriptor vector: pages in, operands and root entries out (02-kapi.md 2.2). */
export interface DescriptorVector {
  readonly name: string;
  readonly note: string;
  readonly origin: "fixed" | "random";
  /** How a module reads the root: `list` (HPA_LIST_INFO / HPA_ARRAY_T entries) or `iommu-mt`. */
  readonly entryFormat: "list" | "iommu-mt";
  /** IOMMU_MT queue block size in pages (NUM_PAGES of entries 0 and 1); 0 for `list`. */
  readonly queuePages: number;
  readonly nrPages: number;
  /** 4 KiB pages covered (a 2^k block counts 2^k). */
  readonly coveredPages: number;
  readonly pages: readonly VectorPage[];
  readonly rootHpa: string;
  readonly hpaListInfo: string;
  readonly hpaArray: string;
  readonly releaseInput: string;
  readonly iommuMt: string;
  /** Root entries 0..nrPages−1; entries nrPages..511 are zero. */
  readonly rootEntries: readonly string[];
}

/** Vector counts, as the summary and the header report them. */
export interface VectorCounts {
  readonly formats: number;
  readonly valid: number;
  readonly invalid: number;
  readonly random: number;
  readonly statuses: number;
  readonly descriptors: number;
  readonly descriptorPages: number;
}

/** Everything `tdxpa vectors` writes. */
export interface VectorSet {
  readonly version: number;
  readonly seed: number;
  readonly generator: string;
  readonly spec: string;
  readonly counts: VectorCounts;
  readonly formats: readonly FormatVector[];
  readonly statuses: readonly StatusVector[];
  readonly descriptors: readonly DescriptorVector[];
}

/** Options of {@link generateVectors}. */
export interface GenerateOptions {
  /** Seed of the random part, an integer in 0..2^32−1 (default {@link DEFAULT_SEED}). */
  readonly seed?: number;
  /** The `generator` field (the CLI passes its name and version). */
  readonly generator?: string;
}
