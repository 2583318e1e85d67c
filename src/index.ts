/**
 * The library entry point of `tdx-page-array` (the package's `.` export): build a machine on a platform,
 * run the host's flows over the `tdx_page_array` descriptor against the emulated TDX Module, run
 * scenarios, check page conservation and record traces. Follows docs/spec/01-formats.md (the page-list
 * formats), docs/spec/02-kapi.md (the host side) and docs/spec/03-module.md (the module side).
 *
 * Everything here is free of Node APIs (it compiles with `"types": []`), so it also runs in a browser.
 * The codecs alone, without the model, are in the `tdx-page-array/formats` subpath; this entry re-exports
 * them, so both tables the model is built from are here: the leaf table `LEAVES` (`LeafName`,
 * `LeafDescriptor`, `LeafTable`) and the format table `FORMATS` (`FormatKind`, `LIST_FORMATS`, `ListFormat`).
 *
 * @example
 * import { createMachine, extensionsBringUp } from "tdx-page-array";
 * const machine = createMachine();
 * const r = extensionsBringUp(machine.kernel); // r.ok, r.interrupts, r.strandedPages
 * @packageDocumentation
 */

export { PfnLabelMap } from "./common/pfn-map.js";
export * from "./formats.js";
export { EXT_POOL_OWNER, EXT_POOL_TAG, extensionsBringUp } from "./host/flows/extensions.js";
export { type IdeStreamRecord, ideStreamSetup, ideStreamTeardown } from "./host/flows/ide.js";
export { type IommuSetupRecord, iommuClearAll, iommuSetupAll } from "./host/flows/iommu.js";
export { FlowRecorder, type FlowResult } from "./host/flows/result.js";
export { type SpdmSessionRecord, spdmSessionConnect, spdmSessionTeardown } from "./host/flows/spdm.js";
export {
  type ConnectRecord,
  platformTeardown,
  tdxConnectBringUp,
  tdxConnectTeardown,
} from "./host/flows/tdx-connect.js";
export type { KapiListener } from "./host/kapi-trace.js";
export type { HostCpu, StrandReport, TdxSysInfo } from "./host/kernel.js";
export {
  DEFAULT_POLICY,
  ExtLock,
  type HostKernel,
  HostLedger,
  type HostPolicy,
  mapPageForRead,
  mapPageForWrite,
  STRANDED_TAG,
  strandPages,
} from "./host/kernel.js";
export type { PageFrameDb } from "./host/page.js";
export { Page } from "./host/page.js";
export type {
  AllocatedBlock,
  AllocOptions,
  LeakedBlock,
  PageAllocatorOptions,
  PageAllocHooks,
  PageAllocStats,
} from "./host/page-alloc.js";
export { PageAllocator } from "./host/page-alloc.js";
export {
  type DestroyResult,
  forEachChunk,
  type PageSource,
  ROOT_TAG,
  TdxPageArray,
  tdxPageArrayCreate,
  tdxPageArrayDestroy,
  tdxPageArrayRepopulate,
  type WriteBackMode,
} from "./host/page-array.js";
export type { RetryResult } from "./host/seamcalls/index.js";
export {
  type CallResult,
  extInit,
  extMemAdd,
  iommuClear,
  iommuSetup,
  MAX_RESUMES,
  pageRdmd,
  pageWbinvd,
  retryWithOriginal,
  retryWithReturned,
  sysRd,
  tdxCall,
} from "./host/seamcalls/index.js";
export type { SpdmChannel } from "./host/spdm.js";
export type { CacheStats, HazardKind } from "./hw/cache.js";
export { CacheModel, type Hazard } from "./hw/cache.js";
export type { MeasurementSpec, PcieDeviceSpec, RootPortSpec, SpdmResponderSpec } from "./hw/devices.js";
export type { MemRange, PfnRange } from "./hw/physmem.js";
export { PhysMem } from "./hw/physmem.js";
export type { KeyIdLayout, ModuleMetadata, TdmrSpec } from "./hw/platform.js";
export {
  defaultPlatform,
  GIB,
  type IommuSpec,
  MIB,
  type Platform,
  platformPages,
  uniformPlatform,
  validatePlatform,
} from "./hw/platform.js";
export { createMachine, type Machine, type MachineOptions } from "./machine.js";
export { InterruptSource } from "./module/behaviours.js";
export type {
  CallContext,
  ForcedStatus,
  InFlight,
  ModuleObject,
  ModuleOptions,
  ObjectKind,
} from "./module/emulator.js";
export {
  type Behaviours,
  type CallRecord,
  DEFAULT_BEHAVIOURS,
  type FailingStatus,
  type InterruptPlan,
  LEAVES,
  type LeafDescriptor,
  type LeafOperand,
  type LeafTable,
  type ModelReport,
  type OperandKind,
  Pamt,
  PT,
  ptName,
  type ResumeRule,
  TdxModule,
} from "./module/index.js";
export type { ChromeTraceOptions } from "./observe/chrome-trace.js";
export {
  type ChromeTrace,
  ChromeTraceConverter,
  chromeTrace,
  type TraceEvent,
} from "./observe/chrome-trace.js";
export {
  type ConservationReport,
  type ConservationTotals,
  checkConservation,
} from "./observe/conservation.js";
export type { CallDescription } from "./observe/describe-call.js";
export type { Detach } from "./observe/events.js";
export {
  attachEvents,
  type EventJson,
  type EventSink,
  eventJson,
  eventToJson,
  isModuleType,
  type ModelEvent,
  type RootPage,
  type RootRaw,
} from "./observe/events.js";
export { type CallObject, ObjectNamer, type ObjectNamerOptions } from "./observe/object-names.js";
export type { RootEntry, RootView } from "./observe/root-pages.js";
export type { FlowState, NamedFlow } from "./scenario/flows.js";
export {
  DEFAULT_SCENARIO_DOC,
  FLOW_NAMES,
  FLOWS,
  type FlowDef,
  type FlowName,
  isFlowName,
  parseScenario,
  type RunReport,
  renderReport,
  runScenario,
  type Scenario,
} from "./scenario/index.js";
export type {
  ExpectationResult,
  PageStates,
  PhaseReport,
  RunOptions,
  StepOutcome,
} from "./scenario/runner.js";
export type { FlowExpect, RegValue, StateExpect, Step } from "./scenario/schema.js";
export type { Verdict, VerdictInput } from "./scenario/verdict.js";
export { verdictOf } from "./scenario/verdict.js";
