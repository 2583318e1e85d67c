/**
 * Leaf rows that interrupt a first call and make the row's call the resumption or the wrong one, hold
 * the extension slot, or need a TD with a quote buffer (test/support/leaf-rows-resume.ts); status and
 * operand, registers out, PAMT. Coverage of every descriptor status: leaf-table.test.ts.
 */
import { describe, it } from "vitest";
import { RESUME_ROWS } from "../support/leaf-rows-resume.js";
import { cases, runRow } from "../support/leaf-table.js";

describe("resumption, extension slot and quote leaf rows: registers in → status, operand, registers out, PAMT", () => {
  it.each(cases(RESUME_ROWS))("%s", (_t, row) => runRow(row));
});
