/**
 * The table of every SEAMCALL leaf the emulator implements (docs/spec/03-module.md 3.3), gathered from the
 * leaf families. `TdxModule` is constructed with it; the transcript decoder (`observe/describe-call.ts`)
 * and the fault table (`faults/fault-table.ts`) derive from it. Typed {@link LeafTable}: a leaf of `LEAF`
 * without a descriptor, or a descriptor without a field, does not compile.
 */

import type { LeafTable } from "./leaf-table.js";
import { CORE_LEAVES } from "./leaves-core.js";
import { EXT_LEAVES } from "./leaves-ext.js";
import { IDE_LEAVES } from "./leaves-ide.js";
import { IOMMU_LEAVES } from "./leaves-iommu.js";
import { QUOTE_LEAVES } from "./leaves-quote.js";
import { SPDM_LEAVES } from "./leaves-spdm.js";
import { METADATA_LEAVES } from "./metadata.js";

/** Every leaf's descriptor, by name. */
export const LEAVES: LeafTable = Object.freeze({
  ...CORE_LEAVES,
  ...METADATA_LEAVES,
  ...EXT_LEAVES,
  ...IOMMU_LEAVES,
  ...SPDM_LEAVES,
  ...IDE_LEAVES,
  ...QUOTE_LEAVES,
});
