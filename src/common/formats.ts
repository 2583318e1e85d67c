/**
 * The page-list formats: HPA_LIST_INFO, HPA_ARRAY_T (with singleton mode), IOMMU_MT, their root-page
 * entries, and HPA_LINKED_LIST pages (docs/spec/01-formats.md 1.1–1.4).
 *
 * Encoders are host-side helpers: they take numbers (HPAs below 2^52, counts) and throw a typed error
 * naming the value and the allowed range when given one that cannot be encoded. Decoders never throw for
 * any u64: they return the fields and, when a rule of docs/spec/01-formats.md 1.4 fails, a {@link Violation}
 * naming the rule, the field and its bits. The module emulator uses the same decoders, with its own
 * check of rule 3 (the root page must be a shared HPA), so host, module and CLI agree by construction.
 *
 * Two shapes of the same codecs. The hot paths take and return plain numbers and allocate nothing:
 * `encode…Into(out, at, …)` writes the two halves into a Uint32Array (a root page, a register file),
 * field readers such as {@link hpaListInfoRootHpa} return one field, and `…Rule(lo, hi)` returns a
 * {@link RuleCode} (0 when the value is valid). The object API (`encodeHpaListInfo`, `decodeHpaListInfo`,
 * …) is a thin wrapper over them that builds the fields object and, only when a rule fails, the
 * {@link Violation} with its message.
 *
 * This file is the codecs' one import path; they live in formats-operands.ts (the three operands),
 * formats-entries.ts (root-page entries and the rule-4 pass), formats-linked.ts (HPA_LINKED_LIST) and
 * formats-args.ts (the encoders' argument checks).
 */

/** Re-exported for importers of this file (the type lives in the format table). */
export type { ListFormat } from "./format-table.js";
export { MAX_ENTRIES } from "./formats-args.js";
export * from "./formats-entries.js";
export * from "./formats-linked.js";
export * from "./formats-operands.js";
export * from "./rules.js";
