/**
 * Design "draft" (2026-04-14, docs/spec/02-kapi.md 2.1–2.6): the caller allocates; a descriptor names at most 512
 * pages, owns one root page and a flush flag; destroy writes back and frees the root. This is the
 * project's own host code, so this module only delegates to the flows of src/host/flows (which use
 * src/host/page-array.ts) and adds nothing of its own.
 *
 * {@link DRAFT_HEAD_PAGE_ONLY} is the same code under the 2026-04-16 kernel diff's write-back rule
 * (policy `writeBack: "head-page-only"`): one PAGE.WBINVD per `pages[i]`, so only the head page of a
 * multi-page IOMMU queue block.
 *
 * One thing here is not the project's host code: the extensions flow allocates the 2026-04-16 diff's
 * pointer array of every pool page ({@link draftExtensions}), which `tdxpa run`'s flow does without.
 */
import { extensionsBringUp } from "../host/flows/extensions.js";
import { iommuClearAll, iommuSetupAll } from "../host/flows/iommu.js";
import type { FlowResult } from "../host/flows/result.js";
import { type SpdmSessionRecord, spdmSessionConnect, spdmSessionTeardown } from "../host/flows/spdm.js";
import { tdxConnectBringUp, tdxConnectTeardown } from "../host/flows/tdx-connect.js";
import { ROOT_TAG } from "../host/page-array.js";
import type { Machine } from "../machine.js";
import { kvcallocPointers, kvfreePointers } from "./_harness.js";
import { type Design, type FlowOutcome, outcome } from "./design.js";

/** The first failing result's step, or null when all were ok. */
function firstFailure(results: readonly FlowResult[]): FlowOutcome {
  const bad = results.find((r) => !r.ok);
  return outcome(bad === undefined ? null : (bad.failedStep ?? bad.flow));
}

/** IOMMU: set up every unit, then clear whatever was set up. */
export function draftIommu(machine: Machine): FlowOutcome {
  const up = iommuSetupAll(machine.kernel, machine.platform.iommus);
  return firstFailure([up.result, iommuClearAll(machine.kernel, up.setups)]);
}

/** SPDM: a session with every device, then each torn down. */
export function draftSpdm(machine: Machine): FlowOutcome {
  const results: FlowResult[] = [];
  const sessions: SpdmSessionRecord[] = [];
  for (const d of machine.platform.devices ?? []) {
    const c = spdmSessionConnect(machine.kernel, d);
    results.push(c.result);
    if (c.session !== null) sessions.push(c.session);
  }
  for (const s of sessions) results.push(spdmSessionTeardown(machine.kernel, s));
  return firstFailure(results);
}

/** IDE: the TDX Connect bring-up (session and stream per device), then its teardown. */
export function draftIde(machine: Machine): FlowOutcome {
  const up = tdxConnectBringUp(
    machine.kernel,
    machine.platform.devices ?? [],
    machine.platform.rootPorts ?? [],
  );
  return firstFailure([up.result, tdxConnectTeardown(machine.kernel, up.built)]);
}

/** Allocator tag of the 2026-04-16 diff's extension `pages` pointer array. */
export const DRAFT_PAGES_TAG = "draft:pages-array";

/**
 * Extensions as the 2026-04-16 diff sets them up: a `kvcalloc`'d array of MEMORY_POOL_REQUIRED_PAGES
 * page pointers (12,800 entries: an order-5 block) beside the pool, freed when the setup ends.
 */
export function draftExtensions(machine: Machine): FlowOutcome {
  const k = machine.kernel;
  const pointerArray = (n: number): (() => void) | null => {
    const block = kvcallocPointers(k, n, DRAFT_PAGES_TAG);
    if (block === null) return null;
    return () => kvfreePointers(k, block);
  };
  return firstFailure([extensionsBringUp(k, { pointerArray })]);
}

const flows: Design["flows"] = {
  extensions: draftExtensions,
  iommu: draftIommu,
  spdm: draftSpdm,
  ide: draftIde,
};

/** The draft design as this project implements it (write-back of every 4 KiB page). */
export const DRAFT_DESIGN: Design = {
  name: "draft",
  description: "2026-04-14: caller allocates, <= 512 per descriptor, root + flush flag, destroy writes back",
  rootTags: [ROOT_TAG],
  metaTags: [DRAFT_PAGES_TAG],
  sources: ["src/designs/draft.ts", "src/host/page-array.ts"],
  sharedSources: [
    "src/host/flows/extensions.ts",
    "src/host/flows/iommu.ts",
    "src/host/flows/spdm.ts",
    "src/host/flows/ide.ts",
    "src/host/flows/tdx-connect.ts",
    "src/host/flows/result.ts",
  ],
  flows,
};

/** The draft with the 2026-04-16 kernel diff's head-page-only write-back. */
export const DRAFT_HEAD_PAGE_ONLY: Design = {
  ...DRAFT_DESIGN,
  name: "draft/head-only",
  description: "2026-04-16 kernel diff: the draft, PAGE.WBINVD once per pages[i] (head page of a block only)",
  policy: { writeBack: "head-page-only" },
};
