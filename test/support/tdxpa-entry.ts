/**
 * `tdxpa` from the sources, for tests that need a real process (signals, another user, a real stdin):
 * `node --import tsx test/support/tdxpa-entry.ts ARGS…` behaves as `bin/tdxpa.js ARGS…` without a build.
 */
import { runFromProcess } from "../../src/cli/main.js";

runFromProcess();
