/**
 * Test vectors for other implementations of the page-list formats and the `tdx_page_array` descriptor
 * (docs/spec/01-formats.md 1.1–1.5, docs/spec/02-kapi.md 2.1–2.2), e.g. a kernel KUnit test. `tdxpa vectors` writes them.
 *
 * Three sets, all plain data:
 * - **format vectors**: a u64 per format kind with its expected decode (fields, and for an invalid one
 *   the rule, spec ref and bits): the worked values of 1.5, boundary values, every reserved bit of every
 *   layout of `fields.ts` set alone (and all of them at once), and seeded pseudo-random values;
 * - **status vectors**: every status kind of `STATUS`, unknown values and random ones, decoded;
 * - **descriptor vectors**: pages in, operands and root entries out, produced by running the real
 *   `tdxPageArrayCreate` on a small simulated host.
 *
 * Expected results come from the project's own decoders (this file generates, it does not judge); the
 * test of this module cross-checks them against an independent oracle written from the spec. Output is
 * deterministic for a given seed: the only randomness is a xorshift32 seeded from it. No Node APIs: the
 * CLI (`src/cli/vectors.ts`) does the file writing.
 *
 * The parts live beside this file: `formats.ts`, `statuses.ts`, `descriptors.ts`, `c-header.ts`, the
 * seeded generator in `rng.ts` and the shapes in `types.ts`; this file assembles the set and re-exports them.
 */
import { checkInt } from "../common/errors.js";
import { descriptorVectors } from "./descriptors.js";
import { boundaryVectors, randomVectors, reservedBitVectors, workedVectors } from "./formats.js";
import { xorshift32 } from "./rng.js";
import { statusVectors } from "./statuses.js";
import { DEFAULT_SEED, type GenerateOptions, VECTORS_VERSION, type VectorSet } from "./types.js";

export { FORMAT_KINDS } from "../common/format-table.js";
export { vectorsHeader } from "./c-header.js";
export { decodeAs } from "./formats.js";
export { type VectorRng, xorshift32 } from "./rng.js";
export * from "./types.js";

/**
 * Generates every vector for `seed`. Same seed, same result, byte for byte once serialised.
 * @example const set = generateVectors({ seed: 1 }); vectorsJson(set); vectorsHeader(set);
 */
export function generateVectors(opts: GenerateOptions = {}): VectorSet {
  const seed = checkInt("vectors.seed", opts.seed ?? DEFAULT_SEED, 0, 0xffff_ffff);
  // Independent streams per part, so adding a vector to one part does not reshuffle the others.
  const formats = [
    ...workedVectors(),
    ...boundaryVectors(),
    ...reservedBitVectors(),
    ...randomVectors(xorshift32(seed, 0)),
  ];
  const statuses = statusVectors(xorshift32(seed, 1));
  const descriptors = descriptorVectors(xorshift32(seed, 2));
  const valid = formats.filter((f) => f.valid).length;
  return {
    version: VECTORS_VERSION,
    seed,
    generator: opts.generator ?? "tdxpa vectors",
    spec: "docs/spec/01-formats.md 1.1-1.5, docs/spec/02-kapi.md 2.1-2.2, docs/spec/03-module.md 3.1 (statuses)",
    counts: {
      formats: formats.length,
      valid,
      invalid: formats.length - valid,
      random: formats.filter((f) => f.origin.startsWith("random")).length,
      statuses: statuses.length,
      descriptors: descriptors.length,
      descriptorPages: descriptors.reduce((s, d) => s + d.nrPages, 0),
    },
    formats,
    statuses,
    descriptors,
  };
}

/** The JSON file's text: 2-space indented, one trailing newline. */
export function vectorsJson(set: VectorSet): string {
  return `${JSON.stringify(set, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------------
