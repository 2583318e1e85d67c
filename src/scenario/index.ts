/**
 * Scenarios: the schema, the runner and the table of named flows.
 */
export { DEFAULT_SCENARIO_DOC } from "./default.js";
export { FLOW_NAMES, FLOWS, type FlowDef, type FlowName, isFlowName } from "./flows.js";
export { renderReport } from "./report-text.js";
export { type RunReport, runScenario } from "./runner.js";
export { parseScenario, type Scenario } from "./schema.js";
