/**
 * The module side's public face: the emulator and the table of every leaf it implements
 * ({@link LEAVES}, which `TdxModule` is constructed with).
 */
export { type Behaviours, DEFAULT_BEHAVIOURS, type InterruptPlan, InterruptSource } from "./behaviours.js";
export { type CallRecord, type ModelReport, type ModuleObject, TdxModule } from "./emulator.js";
export type {
  FailingStatus,
  LeafDescriptor,
  LeafOperand,
  LeafTable,
  OperandKind,
  ResumeRule,
} from "./leaf-table.js";
export { LEAVES } from "./leaves.js";
export { Pamt, PT, ptName } from "./pamt.js";
