/**
 * docs/DESIGNS.md, generated: the design comparison of `tdxpa compare` (docs/spec/02-kapi.md 2.7) run
 * on the default platform and on three shipped scenario files, with the reading of its tables. Every
 * figure in the text is read from those runs here, so the page is true of the code that generates it;
 * `npm run designs` rewrites it, and a test fails when the committed page differs from a fresh one.
 *
 * What each finding rests on beyond the kernel's code (an assumption of the model) is said with it.
 */
import {
  type Comparison,
  compareDesigns,
  DESIGNS,
  type FlowFigures,
  type InjectionFigures,
} from "../designs/compare.js";
import type { DesignFlow } from "../designs/design.js";
import { defaultPlatform } from "../hw/platform.js";
// The scenario files' flow steps are validated against the flows this registers.
import { COMPARE_CAVEATS, renderComparison } from "./compare.js";
import { loadScenario } from "./scenario-file.js";

/** One comparison the page shows: a shipped scenario file (null: the default platform) and options. */
export interface DocRun {
  readonly file: string | null;
  readonly faults: boolean;
  readonly faultPool?: number;
}

/** The runs of the page, by name. */
export const DOC_RUNS = Object.freeze({
  main: { file: null, faults: true },
  noClflush: { file: "scenarios/compare-no-clflush.yaml", faults: false },
  omit: { file: "scenarios/compare-delete-omits-page.yaml", faults: false },
  interrupts: { file: "scenarios/compare-interrupts.yaml", faults: true, faultPool: 256 },
} satisfies Record<string, DocRun>);

type RunName = keyof typeof DOC_RUNS;

/** The command line that reproduces a run. */
export function docCommand(r: DocRun): string {
  const parts = ["tdxpa compare"];
  if (r.file !== null) parts.push(r.file);
  if (!r.faults) parts.push("--no-faults");
  if (r.faultPool !== undefined) parts.push(`--fault-pool ${r.faultPool}`);
  return parts.join(" ");
}

/** Runs one comparison as `tdxpa compare` would (paths relative to the package root). */
export function runDoc(r: DocRun): Comparison {
  const s = r.file === null ? null : loadScenario(r.file);
  return compareDesigns({
    platform: s?.platform ?? defaultPlatform(),
    ...(s === null ? {} : { behaviours: s.behaviours, interrupts: s.interrupts }),
    designs: DESIGNS,
    injection: r.faults,
    ...(r.faultPool === undefined ? {} : { injectionPoolPages: r.faultPool }),
  });
}

function clean(c: Comparison, design: string, flow: DesignFlow): FlowFigures {
  const col = c.designs.find((d) => d.name === design)?.flows[flow];
  if (col?.supported !== true) throw new Error(`designs doc: ${design} ${flow} did not run`);
  return col.clean;
}

function inj(c: Comparison, design: string, flow: DesignFlow): InjectionFigures {
  const col = c.designs.find((d) => d.name === design)?.flows[flow];
  if (col?.supported !== true || col.injection === null)
    throw new Error(`designs doc: ${design} ${flow} has no injection figures`);
  return col.injection;
}

/** Designs that express `flow`, in column order. */
function expressing(c: Comparison, flow: DesignFlow): string[] {
  return c.designs.filter((d) => d.flows[flow]?.supported === true).map((d) => d.name);
}

const n = (x: number) => x.toLocaleString("en-US");
const list = (xs: readonly string[]) =>
  xs.length <= 1 ? (xs[0] ?? "") : `${xs.slice(0, -1).join(", ")} and ${xs.at(-1)}`;
const byDesign = (c: Comparison, flow: DesignFlow, get: (d: string) => number) =>
  list(expressing(c, flow).map((d) => `\`${d}\` ${n(get(d))}`));

/** The lines of `text` from the line starting with `head` to the next blank line. */
function section(text: string, head: string): string {
  const lines = text.split("\n");
  const i = lines.findIndex((l) => l.startsWith(head));
  if (i < 0) throw new Error(`designs doc: no section "${head}"`);
  const j = lines.findIndex((l, k) => k > i && l === "");
  return lines.slice(i, j < 0 ? undefined : j).join("\n");
}

function fenced(command: string, body: string): string {
  return `\`${command}\`:\n\n\`\`\`\n${body}\n\`\`\``;
}

/** `text` indented by `pad` on every non-empty line after the first (a block inside a list item). */
function indent(text: string, pad: string): string {
  return text.replace(/\n(?=.)/g, `\n${pad}`);
}

/** The whole page from the four comparisons. */
export function renderDesignsDoc(runs: Readonly<Record<RunName, Comparison>>): string {
  const M = runs.main;
  const pool = M.poolPages;
  const ptrOrder = Math.ceil(Math.log2(Math.ceil((pool * 8) / 4096)));
  const tails = (d: string) => clean(M, "draft", "iommu").writeBacks - clean(M, d, "iommu").writeBacks;
  const seamcalls = new Set(expressing(M, "extensions").map((d) => clean(M, d, "extensions").seamcalls));
  const O = runs.omit;
  const I = runs.interrupts;
  let intrFailures = 0;
  for (const d of I.designs)
    for (const col of Object.values(d.flows))
      if (col.supported)
        intrFailures += (col.clean.conservationOk ? 0 : 1) + (col.injection?.conservationFailures ?? 0);
  const mainText = renderComparison(M);
  const injPool = M.injectionPoolPages ?? pool;
  const spdmStranded = (d: string) => inj(M, d, "spdm").strandedPages;

  return `# The kAPI designs compared, with figures

<!-- Generated by \`npm run designs\` (src/cli/designs-doc.ts) from the runs it names; edit that file, not this one. -->

\`tdxpa compare\` runs every proposed \`tdx_page_array\` design (docs/spec/02-kapi.md 2.7) through the same
flows on the same emulated machine and prints one column per design. This page is generated from the
runs whose commands it shows (\`npm run designs\`; a test fails when it is stale), so every figure here is
the output of the code as it stands. Where a finding rests on an assumption of the model, not on the
kernel's code, it says so.

## The designs

| column | date | what it is | code |
|---|---|---|---|
| \`v2\` | 2026-03 | the descriptor allocates its own pages (bulk, contiguous, IOMMU_MT via an allocator callback), holds any number and feeds a sliding 512-entry window (\`offset\`, \`nents\`, \`populate\`); \`ctrl_release\` compares the module's released list entry by entry (PFN and NUM_PAGES bits), issues one PAGE.WBINVD per \`pages[i]\`, frees; any mismatch or error goes to \`ctrl_leak\` (free the root and the descriptor, strand the data pages) | \`src/designs/v2.ts\` |
| \`draft\` | 2026-04-14 | the project's own host code: caller allocates, ≤ 512 per descriptor, root + flush flag, destroy writes back every 4 KiB page; its extensions flow also allocates the 2026-04-16 diff's pointer array of every pool page | \`src/host/page-array.ts\`, flows in \`src/host/flows/\`, delegated to by \`src/designs/draft.ts\` |
| \`draft/head-only\` | 2026-04-16 | the same code with the kernel diff's write-back rule: one PAGE.WBINVD per \`pages[i]\` (policy \`writeBack: head-page-only\`) | as draft |
| \`split\` | reviewers | a generic page list (pages only, knows whether it owes a write-back) and one builder per format producing root + operand; IOMMU_MT takes its two queue blocks as an explicit input | \`src/designs/split.ts\` |
| \`hpa_list\` | 2026-06 | a plain page of 512 HPAs refilled per chunk of the extension pool, no CLFLUSH, no release path | \`src/designs/hpa-list.ts\` |

\`v2\`, \`split\` and \`hpa_list\` run the flows written once in \`src/designs/_harness.ts\` against a small
binding (\`Handoff<H>\`, \`PoolFeeder<H>\`): each design supplies only its own data structure and life cycle
(allocate, populate/build, encode, release, write back, leak). The flows are those of 02-kapi.md 2.5 with
the failure policy of 2.6 as the draft's flows apply it, so a difference in a column is a difference of
the kAPI, not of the flow.

How each figure is measured (\`src/designs/compare.ts\`): every flow runs on a fresh machine; allocations
and pages come from the allocator's counters and its \`onAlloc\` hook; root pages are allocations with
the design's root tag; peak extra pages is the most root and pointer-array pages the design held at
once; SEAMCALLs from the module's sequence counter; CLFLUSHes and write-backs from the cache model (a
write-back is a PAGE.WBINVD that succeeded); hazards from the cache model; stranded pages from the
host's ledger; conservation from \`checkConservation\`. The single-fault injection reruns the flow once
per allocation call and once per SEAMCALL of its clean run, each on a fresh machine where exactly that
one fails (allocation → null; SEAMCALL → \`TDX_OP_STATE_INCORRECT\` with no effect).

Code size is not compared: the columns are this project's TypeScript ports, whose line counts say
nothing about the kernel's C (the kernel diff of the 2026-04-14 draft was +316/−456 lines).

## The table

${fenced(docCommand(DOC_RUNS.main), mainText)}

## Who wins what

- **Memory held for the extension pool.** Peak extra pages: ${byDesign(M, "extensions", (d) => clean(M, d, "extensions").peakExtraPages)}.
  A list of ${n(pool)} page pointers is a ${n(pool * 8)}-byte \`kvcalloc\`, which kvmalloc serves as an
  order-${ptrOrder} block (${2 ** ptrOrder} pages): v2 and split keep one per descriptor, and the 2026-04-16 diff's
  extension setup (the \`draft\` columns) allocates one beside the pool. Only \`hpa_list\` refills one page of
  HPAs per chunk. (The project's own \`tdxpa run\` flow makes page handles one chunk at a time and needs
  no pointer array; that is this project's choice, not the kernel's.) ${seamcalls.size === 1 ? `All issue the same ${[...seamcalls][0]} SEAMCALLs.` : "They differ in SEAMCALLs."}
- **Root pages held at once (spdm, ide).** Peak extra pages in spdm: ${byDesign(M, "spdm", (d) => clean(M, d, "spdm").peakExtraPages)};
  in ide: ${byDesign(M, "ide", (d) => clean(M, d, "ide").peakExtraPages)}. \`split\` frees an HPA_ARRAY_T root right after
  the call that read it, where the draft and v2 keep a root per live object, and pays with more root
  allocations (spdm: ${byDesign(M, "spdm", (d) => clean(M, d, "spdm").rootPages)}). For IOMMU_MT no design can free early:
  TDH.IOMMU.CLEAR names the same root as the SETUP (peak ${byDesign(M, "iommu", (d) => clean(M, d, "iommu").peakExtraPages)}).
- **Write-backs.** IOMMU flow: ${byDesign(M, "iommu", (d) => clean(M, d, "iommu").writeBacks)} PAGE.WBINVD. \`v2\` and
  \`draft/head-only\` issue one per \`pages[i]\`, so each leaves ${tails("v2")} and ${tails("draft/head-only")} queue-block tail pages
  unwritten, and the cache model reports each as a hazard (${byDesign(M, "iommu", (d) => clean(M, d, "iommu").hazards)}).
  *Caveat:* this rests on one PAGE.WBINVD writing back exactly one 4 KiB page (the model's reading of
  docs/spec/03-module.md 3.3); SPDM and IDE metadata are order-0 pages, where the rule makes no difference.
- **Pages stranded under faults** (sum over the single-fault injection, ${n(injPool)}-page pool): spdm ${byDesign(M, "spdm", spdmStranded)};
  ide ${byDesign(M, "ide", (d) => inj(M, d, "ide").strandedPages)}; iommu ${byDesign(M, "iommu", (d) => inj(M, d, "iommu").strandedPages)};
  extensions ${byDesign(M, "extensions", (d) => inj(M, d, "extensions").strandedPages)}. v2's \`ctrl_leak\` strands every data page of the
  descriptor on any error, one failed PAGE.WBINVD included, where the draft strands only the block whose
  write-back failed. *Caveat:* these sums count the host's failure policy (docs/spec/02-kapi.md 2.6)
  under one injected status with no effect in the module; what a real module holds after a real failure
  may differ.
- **Conservation.** Conservation failures over every flow and design, clean and under every single
  fault: ${M.designs.reduce((a, d) => a + Object.values(d.flows).reduce((b, col) => b + (col.supported ? (col.clean.conservationOk ? 0 : 1) + (col.injection?.conservationFailures ?? 0) : 0), 0), 0)}.

## What the model found that the debate did not know

1. **Head-page-only write-back leaves dirty lines, and faults make it worse.** Clean, in the IOMMU flow:
   \`v2\` ${clean(M, "v2", "iommu").hazards} and \`draft/head-only\` ${clean(M, "draft/head-only", "iommu").hazards} hazards
   (\`private-lines-on-host-page\`), the queue blocks' tail pages going back to the allocator dirty under
   the module's KeyID. Under the single-fault injection the sums are ${n(inj(M, "v2", "iommu").hazards)} (v2) and
   ${n(inj(M, "draft/head-only", "iommu").hazards)} (draft/head-only): every run that reaches teardown repeats them.
   *Caveat:* as above, this assumes PAGE.WBINVD covers one 4 KiB page.
2. **hpa_list without CLFLUSH is safe only on memory nobody wrote.** From the table's CLFLUSH experiment:
   on a fresh machine the pool pages have never been written, so skipping CLFLUSH produces no hazard;
   when every page the allocator hands out carries dirty KeyID-0 lines of its previous user, hpa_list
   gives the module ${n(M.clflush.find((r) => r.design === "hpa_list")?.usedOn ?? 0)} pages with dirty host lines while the module
   advertises CLFLUSH_BEFORE_ALLOC. From a module that does not advertise it:

   ${indent(fenced(docCommand(DOC_RUNS.noClflush), section(renderComparison(runs.noClflush), "CLFLUSH_BEFORE_ALLOC experiment")), "   ")}

   So dropping CLFLUSH for extension memory (the 2026-06 series) is right only for modules that do not
   advertise CLFLUSH_BEFORE_ALLOC. *Caveat:* "flag off, no hazard" rests on ledger
   \`no-clflush-when-not-required\` (the module drops the host's lines itself), and "host-used memory" is
   a condition the model sets, not a measurement of a real host.
3. **A short released list: v2's comparison strands the session's pages, the draft loses one page
   precisely.** With the wrong-module behaviour \`deleteOmitsOnePage\` (DELETE succeeds, its released list
   lacks one page, which stays module-owned):

   ${indent(fenced(docCommand(DOC_RUNS.omit), section(renderComparison(O), "spdm:")), "   ")}

   v2 notices the mismatch and goes to \`ctrl_leak\`: ${clean(O, "v2", "spdm").strandedPages} pages stranded (every
   session's metadata pages; the roots are freed) and ${clean(O, "v2", "spdm").writeBacks} write-backs. The draft and split
   trust DELETE as 2.6 says; the model's release check reports each short list (${clean(O, "draft", "spdm").reports} model
   reports), and the write-back of the omitted page fails (PAGE.WBINVD needs PT_NDA), so the draft strands
   exactly those pages: ${clean(O, "draft", "spdm").strandedPages}. Conservation fails for every design for the same reason
   only: the module keeps a page owned by a session it deleted, which no host can repair. *Caveat:*
   \`deleteOmitsOnePage\` is a wrong module the model can play, not a known module behaviour.
4. **The extension flow stranded pages the module never saw (found and fixed).** In the first run of this
   comparison the draft's flow (and split's and hpa_list's) allocated the root page after the pool, and
   a failed root allocation stranded the whole pool under "any failure is fatal" although no
   TDH.EXT.MEM.ADD had been issued. The flows now give the pool back when nothing reached the module
   (ledger \`root-alloc-failure\`); the tables above are after the fix.
5. **A failed re-issue of an interrupted TDH.IOMMU.SETUP broke conservation in every design (found and
   fixed).** With interrupts every 7 units a fault forced on a *resumed* SETUP left the pages its earlier
   units had claimed private, while the host took the error to mean "rolled back" and freed them. The
   emulator now ends that call as a real error inside it would, releasing what it claimed (ledger
   \`forced-status-aborts\`). \`${docCommand(DOC_RUNS.interrupts)}\` now counts ${intrFailures} conservation
   failures over every flow and design, clean and under every single fault. *Caveat:* the sources do not
   say what a module does with an interrupted call's progress when a later re-issue fails; the ledger
   entry is the model's answer. The kAPI does not decide this; it is the same for all designs.

The three scenario files change only what their description says; \`compare\` ignores their steps and host
policy (their steps are for \`tdxpa run\`).

## What each design cannot express

- \`hpa_list\`: IOMMU (IOMMU_MT entries 0 and 1 carry NUM_PAGES in bits 11:0 and the pages come back at
  CLEAR needing PAGE.WBINVD: a plain HPA array has no entry bits, no flag and no write-back), SPDM
  (TDH.SPDM.DELETE needs a release input and the metadata pages need PAGE.WBINVD), IDE (the same, and it
  needs an SPDM session). Adding those would turn it into the draft.
- The others express every flow. Not modelled by any column: the quote buffer (HPA_LINKED_LIST), which
  none of the designs' descriptors serves.

## Limits of the comparison

- The figures are for the platform of each run (the default: ${M.platform}, pool ${n(pool)}); a scenario
  file changes the platform, module behaviours and interrupts, not the designs' code.
- Fault injection uses a ${n(injPool)}-page pool (\`--fault-pool\`); the clean figures use the platform's value. One
  injected status only (TDX_OP_STATE_INCORRECT); a forced status has no effect in the module beyond
  ending an interrupted call it would have resumed.
- Peak extra pages counts page-allocator memory only: pointer arrays when larger than 4 KiB (kvmalloc's
  first attempt, one block of the next power-of-two order), not slab objects.
- Every caveat \`tdxpa compare\` prints:
${COMPARE_CAVEATS.map((c) => `  - ${c}`).join("\n")}
`;
}

/** Runs every comparison of the page and returns the page. */
export function generateDesignsDoc(): string {
  const runs = {} as Record<RunName, Comparison>;
  for (const [name, r] of Object.entries(DOC_RUNS) as [RunName, DocRun][]) runs[name] = runDoc(r);
  return renderDesignsDoc(runs);
}
