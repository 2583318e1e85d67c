/**
 * The module side's public face: the emulator with every leaf registered. Import this (not the leaf
 * files) to get a complete module.
 */
import "./leaves-core.js";
import "./metadata.js";
import "./leaves-ext.js";
import "./leaves-iommu.js";
import "./leaves-spdm.js";
import "./leaves-ide.js";
import "./leaves-quote.js";

export { type Behaviours, DEFAULT_BEHAVIOURS, type InterruptPlan, InterruptSource } from "./behaviours.js";
export { type CallRecord, type ModelReport, type ModuleObject, TdxModule } from "./emulator.js";
export { Pamt, PT, ptName } from "./pamt.js";
