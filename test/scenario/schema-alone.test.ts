/**
 * The schema reads the flow table itself: with only `schema.ts` imported (no side-effect import of the
 * runner or of `scenario/index.ts`), every flow name of `FLOWS` is accepted and others are refused with
 * the whole list. This file must import nothing else from src/scenario.
 */
import { describe, expect, it } from "vitest";
import { parseScenario } from "../../src/scenario/schema.js";

describe("schema without the runner", () => {
  it("accepts a flow step with only the schema imported", () => {
    const s = parseScenario({ name: "alone", steps: [{ flow: "extensions" }] });
    expect(s.steps).toEqual([{ kind: "flow", flow: "extensions", expect: null }]);
  });

  it("lists every flow when the name is unknown", () => {
    expect(() => parseScenario({ name: "alone", steps: [{ flow: "x" }] })).toThrow(
      'steps[0].flow: expected one of extensions, iommu-setup, iommu-teardown, tdx-connect, tdx-connect-teardown, bring-up, teardown, quote, quote-loop, quote-short, quote-private-page, got "x"',
    );
  });
});
