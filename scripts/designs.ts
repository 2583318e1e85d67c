/**
 * `npm run designs`: regenerates docs/DESIGNS.md from the comparisons it shows (src/cli/designs-doc.ts).
 * Run it after any change that moves a figure of `tdxpa compare`; test/designs/designs-doc.test.ts fails until then.
 */
import { writeFileSync } from "node:fs";
import { generateDesignsDoc } from "../src/cli/designs-doc.js";

writeFileSync("docs/DESIGNS.md", generateDesignsDoc());
process.stdout.write("docs/DESIGNS.md regenerated\n");
