/**
 * Golden transcripts: every SEAMCALL of a bring-up and teardown, decoded, compared line by line with a
 * committed file. A change to the model that alters them fails here until it is accepted on purpose
 * with `npm run accept-golden`, which rewrites the files (review the diff before committing).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { extensionsBringUp } from "../../src/host/flows/extensions.js";
import { iommuClearAll, iommuSetupAll } from "../../src/host/flows/iommu.js";
import { platformTeardown, tdxConnectBringUp } from "../../src/host/flows/tdx-connect.js";
import { checkConservation } from "../../src/observe/conservation.js";
import { describeCall, formatCall } from "../../src/observe/describe-call.js";
import { machine } from "../support/machine.js";

const accept = process.env.UPDATE_GOLDEN === "1";

function transcript(): string {
  const m = machine({ interrupts: { kind: "every", k: 256 } });
  const lines: string[] = [`# platform ${m.platform.name}, interrupts every 256 units`];
  m.module.onCall = (r) => lines.push(formatCall(describeCall(r, m.platform.keyIds.shift)));
  lines.push("## extensions bring-up");
  const ext = extensionsBringUp(m.kernel);
  lines.push(`## -> ok=${ext.ok} interrupts=${ext.interrupts}`, "## iommu setup");
  const s = iommuSetupAll(m.kernel, m.platform.iommus);
  lines.push(`## -> ok=${s.result.ok} ${JSON.stringify(s.result.details)}`, "## iommu teardown");
  const c = iommuClearAll(m.kernel, s.setups);
  const cons = checkConservation(m);
  lines.push(
    `## -> ok=${c.ok}`,
    `## conservation ok=${cons.ok} ${JSON.stringify(cons.totals)}`,
    `## hazards ${m.cache.hazards.length}`,
  );
  return `${lines.join("\n")}\n`;
}

/** Extensions, IOMMUs, an SPDM session and IDE stream per device, then the whole platform teardown. */
function spdmIdeTranscript(): string {
  const m = machine({ interrupts: { kind: "every", k: 256 } });
  const lines: string[] = [`# platform ${m.platform.name}, interrupts every 256 units`];
  lines.push("## extensions bring-up");
  const ext = extensionsBringUp(m.kernel);
  lines.push(`## -> ok=${ext.ok} interrupts=${ext.interrupts}`, "## iommu setup");
  const s = iommuSetupAll(m.kernel, m.platform.iommus);
  lines.push(`## -> ok=${s.result.ok} ${JSON.stringify(s.result.details)}`, "## tdx connect bring-up");
  m.module.onCall = (r) => lines.push(formatCall(describeCall(r, m.platform.keyIds.shift)));
  const up = tdxConnectBringUp(m.kernel, m.platform.devices ?? [], m.platform.rootPorts ?? []);
  lines.push(`## -> ok=${up.result.ok} ${JSON.stringify(up.result.details)}`, "## platform teardown");
  const down = platformTeardown(m.kernel, { connect: up.built, iommus: s.setups });
  const cons = checkConservation(m);
  lines.push(
    `## -> ok=${down.ok}`,
    `## conservation ok=${cons.ok} ${JSON.stringify(cons.totals)}`,
    `## hazards ${m.cache.hazards.length} reports ${m.module.reports.length}`,
  );
  return `${lines.join("\n")}\n`;
}

function compareGolden(name: string, got: string): void {
  const file = fileURLToPath(new URL(`./golden/${name}`, import.meta.url));
  if (accept) {
    writeFileSync(file, got);
    return;
  }
  expect(existsSync(file), "golden file missing: run npm run accept-golden").toBe(true);
  const want = readFileSync(file, "utf8");
  const gl = got.split("\n");
  const wl = want.split("\n");
  const firstDiff = gl.findIndex((l, i) => l !== wl[i]);
  expect(
    firstDiff === -1 && gl.length === wl.length
      ? null
      : { line: firstDiff + 1, got: gl[firstDiff], want: wl[firstDiff] },
  ).toBeNull();
}

describe("golden transcript", () => {
  it("SPDM sessions and IDE streams on the default platform", () => {
    compareGolden("spdm-ide.txt", spdmIdeTranscript());
  });

  it("bring-up and teardown on the default platform", () => {
    compareGolden("bringup-teardown.txt", transcript());
  });
});
