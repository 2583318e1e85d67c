/**
 * The default scenario, what `tdxpa run` does without a file: the full bring-up on the default platform
 * (extensions, IOMMUs and TDX Connect: the flows `bring-up` names in src/scenario/flows.ts), then the full teardown, with
 * interrupts every 64 units of work so resumption is exercised. `scenarios/default.yaml` is the same
 * document as a file (a test keeps the two equal).
 */
export const DEFAULT_SCENARIO_DOC = {
  name: "default bring-up and teardown",
  description:
    "Extensions bring-up, IOMMU setup on every TDX-capable unit, an SPDM session and an IDE stream per device, then the full teardown, on the default two-socket platform with interrupts every 64 units of work.",
  module: { interrupts: { every: 64 } },
  steps: [
    { flow: "bring-up", expect: { ok: true } },
    { expect: { conservation: "ok", hazards: 0 } },
    { flow: "teardown", expect: { ok: true } },
    { expect: { conservation: "ok", hazards: 0, reports: 0, pages: { hostHeld: 0, stranded: 0 } } },
  ],
} as const;
