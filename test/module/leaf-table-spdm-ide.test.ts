/**
 * Leaf rows of the SPDM and IDE leaves that need a device (test/support/leaf-rows-spdm-ide.ts): a
 * session or stream in the state the leaf checks, reached through the host flows, then one raw call;
 * status and operand, registers out, PAMT. Coverage of every descriptor status: leaf-table.test.ts.
 */
import { describe, it } from "vitest";
import { SPDM_IDE_ROWS } from "../support/leaf-rows-spdm-ide.js";
import { cases, runRow } from "../support/leaf-table.js";

describe("SPDM / IDE leaf rows: registers in → status, operand, registers out, PAMT", () => {
  it.each(cases(SPDM_IDE_ROWS))("%s", (_t, row) => runRow(row));
});
