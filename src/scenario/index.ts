/**
 * Scenarios: import this to get the schema, the runner and every flow family registered.
 */
import "./flows.js";

export { DEFAULT_SCENARIO_DOC } from "./default.js";
export { FLOWS, registerFlow } from "./flows.js";
export { renderReport } from "./report-text.js";
export { type RunReport, runScenario } from "./runner.js";
export { parseScenario, type Scenario } from "./schema.js";
