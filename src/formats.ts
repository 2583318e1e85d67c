/**
 * The `tdx-page-array/formats` subpath: the page-list codecs of docs/spec/01-formats.md (HPA_LIST_INFO,
 * HPA_ARRAY_T, IOMMU_MT and their root-page entries) and the format table that lists them, TDX status
 * codes and leaf numbers, the u64 helpers they speak, the field layouts as data and the typed errors. No dependencies and no Node API: it runs
 * unchanged in a browser.
 *
 * @example
 * import { decodeHpaListInfo, parseU64 } from "tdx-page-array/formats";
 * const v = parseU64("0xFF80000012345000");
 * decodeHpaListInfo(v.lo, v.hi).fields; // { firstEntry: 0, lastEntry: 511, count: 512, rootHpa: 0x12345000 }
 * @packageDocumentation
 */

export * from "./common/errors.js";
export * from "./common/fields.js";
export * from "./common/format-table.js";
export * from "./common/formats.js";
export * from "./common/seamcall.js";
export * from "./common/status.js";
export * from "./common/u64.js";
