#!/usr/bin/env node
// The tdxpa command: runs the compiled CLI (npm run build writes dist/).
import { runFromProcess } from "../dist/cli/main.js";

runFromProcess();
