/**
 * `tdxpa inspect`: shows what a host handed over. From a scenario (run up to a step) or from a JSON
 * Lines trace: the root page of each SEAMCALL that takes a page list, entries decoded with any rule they
 * break; and, after a scenario, the PAMT state of a page range next to the allocator's and the cache's
 * view of each page.
 */
import { escapeControls } from "../common/errors.js";
import { HPA_LIMIT, hpaToPfn, PAGE_SIZE, parseU64, pfnToHpa, u64ToNumber } from "../common/u64.js";
import type { Machine } from "../machine.js";
import { ptName } from "../module/pamt.js";
import type { RootView } from "../observe/root-pages.js";
import { runScenario } from "../scenario/runner.js";
import { decodeUtf8, INPUT_LIMITS, readBoundedFile } from "./input-file.js";
import { EXIT, jsonLine, type OptionSpec, parseCommandArgs, type Subcommand, UsageError } from "./io.js";
import { inScenario, scenarioFromArgs, scenarioSource } from "./scenario-file.js";

/** The most pages one `--pamt` range shows. */
const MAX_PAMT_PAGES = 4096;

const OPTIONS: OptionSpec = {
  trace: { type: "string" },
  step: { type: "string" },
  call: { type: "string" },
  pamt: { type: "string" },
  all: { type: "boolean" },
  json: { type: "boolean" },
};

const HELP = `Usage: tdxpa inspect [scenario] [--step N] [--call SEQ] [--pamt HPA[:PAGES]] [--all] [--json]
       tdxpa inspect --trace FILE.jsonl|- [--call SEQ] [--all] [--json]

Shows the root page of every SEAMCALL that takes a page list (HPA_LIST_INFO, HPA_ARRAY_T, IOMMU_MT):
the operand as handed over, FIRST_ENTRY, the resume chain of an interrupted call, and the
entries decoded, with the rule an entry breaks. With a scenario (default: the default scenario) it runs
steps 0..N (--step, default the last) and shows the calls of step N; --call picks one call by its
sequence number. --pamt shows, after step N, each page of a range: PAMT type and owner, allocator
state and tag, dirty KeyIDs; without --call it prints only the PAMT. With --trace it reads a JSON
Lines trace written by 'tdxpa run --trace' ('-': standard input), a regular file or FIFO of at most
256 MiB (docs/FILES.md).

Options:
  --step N            run steps 0..N and show step N's calls
  --call SEQ          show only SEAMCALL number SEQ (as numbered in traces and reports)
  --pamt HPA[:PAGES]  PAMT state of PAGES pages (default 1, at most ${MAX_PAMT_PAGES}) from HPA
  --all               print every entry (default: the first 8 and the last of each list)
  --json              one JSON object
  -h, --help          show this help

Exit status: 0 shown, 2 usage error (bad option, no such call or step, unreadable trace or scenario).

Examples:
  tdxpa inspect --call 4
  tdxpa inspect scenarios/duplicate-page.yaml --step 0
  tdxpa inspect --step 0 --pamt 0x100000:8
  tdxpa run --trace run.jsonl && tdxpa inspect --trace run.jsonl --call 105`;

interface CallView {
  readonly seq: number;
  readonly leaf: string;
  readonly status: string;
  readonly root: RootView;
  /**
   * The calls of one interrupted-and-resumed operation this call belongs to, in order (a call that was
   * not interrupted and resumes nothing has a chain of one: itself).
   */
  readonly resumeChain: readonly number[];
}

/**
 * Follows interruptions: a call of a leaf right after that leaf returned TDX_INTERRUPTED_RESUMABLE is its
 * resumption. Returns a function that takes each SEAMCALL in order and gives its (growing) chain.
 */
function resumeChains(): (seq: number, leaf: string, statusName: string | null) => number[] {
  const pending = new Map<string, number[]>();
  return (seq, leaf, statusName) => {
    const chain = pending.get(leaf) ?? [];
    chain.push(seq);
    if (statusName === "TDX_INTERRUPTED_RESUMABLE") pending.set(leaf, chain);
    else pending.delete(leaf);
    return chain;
  };
}

function chainText(c: CallView): string {
  const ch = c.resumeChain;
  if (ch.length <= 1) return "  resume chain: none (not interrupted, resumes nothing)";
  const shown =
    ch.length <= 6
      ? ch.map((s) => `#${s}`).join(" -> ")
      : `#${ch[0]} -> #${ch[1]} -> … -> #${ch[ch.length - 1]}`;
  return `  resume chain: ${shown} (${ch.length} calls); this is call ${ch.indexOf(c.seq) + 1} of ${ch.length}`;
}

/** A trace written before RootView had `operand` and `firstEntry` still renders (they show as unknown). */
function withOperand(r: RootView): RootView {
  return {
    ...r,
    operand: typeof r.operand === "string" ? r.operand : "(not in this trace)",
    firstEntry: r.firstEntry ?? null,
  };
}

function int(name: string, v: string, max: number): number {
  const n = u64ToNumber(...(Object.values(parseU64(v, `inspect --${name}`)) as [number, number]));
  if (n === null || n > max)
    throw new UsageError(`inspect: --${name}: ${v} is out of range; allowed 0..${max}`);
  return n;
}

const isStr = (v: unknown): v is string => typeof v === "string";
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/**
 * One line of a JSON Lines trace: the SEAMCALL with a page list it records, null for any other event.
 * Every field the renderer prints is checked for its type first, so a hand-edited or foreign line is
 * one line naming the file, the line number and the field, never a crash or `[object Object]`.
 */
function traceCall(
  file: string,
  lineNo: number,
  line: string,
  chainOf: ReturnType<typeof resumeChains>,
): CallView | null {
  const where = `inspect: ${file}:${lineNo}`;
  let e: unknown;
  try {
    e = JSON.parse(line);
  } catch {
    throw new UsageError(`${where}: not a JSON Lines trace (write one with 'tdxpa run --trace FILE')`);
  }
  if (typeof e !== "object" || e === null || Array.isArray(e) || !isStr((e as { type?: unknown }).type))
    throw new UsageError(`${where}: not a trace event`);
  const ev = e as Record<string, unknown>;
  if (ev.type !== "seamcall") return null;
  const bad = (field: string, want: string): never => {
    throw new UsageError(`${where}: not a trace event (seamcall ${field}: expected ${want})`);
  };
  if (!isCount(ev.seq)) bad("seq", "a count");
  if (!isStr(ev.leaf)) bad("leaf", "a string");
  // Every SEAMCALL extends or ends a resume chain, whether or not it carries a page list.
  const chain = chainOf(ev.seq as number, ev.leaf as string, isStr(ev.statusName) ? ev.statusName : null);
  if (ev.root === undefined || ev.root === null) return null;
  if (!isStr(ev.status)) bad("status", "a string");
  const r = ev.root as Record<string, unknown>;
  if (typeof r !== "object" || Array.isArray(r)) bad("root", "an object");
  if (!isStr(r.register)) bad("root.register", "a string");
  if (!isStr(r.format)) bad("root.format", "a string");
  if (r.rootHpa !== null && !isStr(r.rootHpa)) bad("root.rootHpa", "a string or null");
  if (!isCount(r.count)) bad("root.count", "a count");
  if (!Array.isArray(r.entries)) bad("root.entries", "an array");
  for (const [i, x] of (r.entries as unknown[]).entries()) {
    const en = x as Record<string, unknown>;
    const at = `root.entries[${i}]`;
    if (typeof en !== "object" || en === null || Array.isArray(en)) bad(at, "an object");
    if (!isCount(en.index)) bad(`${at}.index`, "a count");
    if (!isStr(en.raw)) bad(`${at}.raw`, "a string");
    if (!isStr(en.hpa)) bad(`${at}.hpa`, "a string");
    if (!isCount(en.numPages)) bad(`${at}.numPages`, "a count");
    if (en.error !== null && !isStr(en.error)) bad(`${at}.error`, "a string or null");
  }
  return {
    seq: ev.seq as number,
    leaf: ev.leaf as string,
    status: ev.status as string,
    root: withOperand(r as unknown as RootView),
    resumeChain: chain,
  };
}

function render(c: CallView, all: boolean): string[] {
  const r = c.root;
  const x = escapeControls;
  const out = [
    `#${c.seq} ${x(c.leaf)} -> ${x(c.status)}`,
    `  ${x(r.register)} = ${x(r.operand)} (the operand as handed over)`,
    `  ${x(r.register)} ${x(r.format)}: ${r.rootHpa === null ? "singleton (no root page)" : `root page ${x(r.rootHpa)}`}${r.firstEntry === null ? "" : `, FIRST_ENTRY ${r.firstEntry}`}, ${r.count} entries`,
    chainText(c),
  ];
  const shown =
    all || r.entries.length <= 9 ? r.entries : [...r.entries.slice(0, 8), r.entries[r.entries.length - 1]!];
  for (const [i, e] of shown.entries()) {
    if (!all && i === 8 && r.entries.length > 9) out.push(`    … ${r.entries.length - 9} more`);
    out.push(
      `    [${String(e.index).padStart(3)}] ${x(e.raw)}  hpa ${x(e.hpa)}${e.numPages > 0 ? `  NUM_PAGES ${e.numPages}` : ""}${e.error === null ? "" : `  INVALID: ${x(e.error)}`}`,
    );
  }
  return out;
}

function pamtRows(machine: Machine, startHpa: number, pages: number) {
  const rows = [];
  for (let i = 0; i < pages; i++) {
    const pfn = hpaToPfn(startHpa) + i;
    const inTdmr = machine.module.pamt.inTdmr(pfn);
    const owner = inTdmr ? machine.module.pamt.owner(pfn) : 0;
    rows.push({
      hpa: `0x${pfnToHpa(pfn).toString(16)}`,
      type: inTdmr ? ptName(machine.module.pamt.type(pfn)) : "(not in a TDMR)",
      owner: owner === 0 ? null : `${owner} ${machine.module.objects.get(owner)?.name ?? "(gone)"}`,
      allocator: !machine.mem.contains(pfn)
        ? "no memory"
        : machine.alloc.isReserved(pfn)
          ? "reserved"
          : machine.alloc.isFree(pfn)
            ? "free"
            : `allocated (${machine.alloc.tagOf(pfn)})`,
      dirtyKeyIds: [...machine.cache.dirtyKeyIds(pfn)],
    });
  }
  return rows;
}

/** The `inspect` subcommand. */
export const inspectCommand: Subcommand = {
  name: "inspect",
  summary: "show root pages a host handed over, and the PAMT state of pages",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("inspect", args, OPTIONS);
    const callSeq = typeof values.call === "string" ? int("call", values.call, 2 ** 40) : null;
    const all = values.all === true;
    const calls: CallView[] = [];
    let pamt: ReturnType<typeof pamtRows> | null = null;
    if (typeof values.trace === "string") {
      if (positionals.length > 0 || values.step !== undefined || values.pamt !== undefined) {
        throw new UsageError("inspect: --trace reads a trace; --step, --pamt and a scenario need a run");
      }
      const file = values.trace;
      const chainOf = resumeChains();
      // `-` reads the trace from standard input (bounded by the standard input cap).
      const text =
        file === "-"
          ? await io.readStdin()
          : decodeUtf8(readBoundedFile(file, "trace", INPUT_LIMITS.trace), file);
      for (const [n, line] of text.split("\n").entries()) {
        if (line.trim() === "") continue;
        const e = traceCall(file, n + 1, line, chainOf);
        if (e !== null && (callSeq === null || e.seq === callSeq)) calls.push(e);
      }
    } else {
      const scenario = scenarioFromArgs("inspect", positionals);
      const last = scenario.steps.length - 1;
      const step = typeof values.step === "string" ? int("step", values.step, last) : last;
      let pamtRange: [number, number] | null = null;
      if (typeof values.pamt === "string") {
        const [h, p] = values.pamt.split(":");
        const hpa = int("pamt", h ?? "", HPA_LIMIT - PAGE_SIZE);
        pamtRange = [
          pfnToHpa(hpaToPfn(hpa)),
          p === undefined ? 1 : Math.max(1, int("pamt", p, MAX_PAMT_PAGES)),
        ];
      }
      let current = -1;
      const chainOf = resumeChains();
      inScenario(scenarioSource(positionals), () =>
        runScenario(
          { ...scenario, steps: scenario.steps.slice(0, step + 1) },
          {
            pageEvents: false,
            onEvent: (e) => {
              if (e.type === "phase" && e.edge === "begin") current++;
              if (e.type !== "seamcall") return;
              const chain = chainOf(e.seq, e.leaf, e.statusName);
              const root = e.root?.view() ?? null;
              if (root === null) return;
              if (callSeq !== null ? e.seq === callSeq : current === step)
                calls.push({ seq: e.seq, leaf: e.leaf, status: e.status, root, resumeChain: chain });
            },
            onDone: (machine) => {
              if (pamtRange !== null) pamt = pamtRows(machine, pamtRange[0], pamtRange[1]);
            },
          },
        ),
      );
    }
    // --pamt without --call prints only the PAMT.
    const showCalls = values.pamt === undefined || callSeq !== null;
    if (callSeq !== null && calls.length === 0)
      throw new UsageError(`inspect: no SEAMCALL #${callSeq} with a page list in that run`);
    if (values.json === true) {
      io.out(jsonLine({ calls: showCalls ? calls : [], pamt }));
      return EXIT.OK;
    }
    if (showCalls) {
      if (calls.length === 0) io.out("no SEAMCALL with a page list in that step");
      for (const c of calls) io.out(render(c, all).join("\n"));
    }
    if (pamt !== null) {
      io.out("PAMT:");
      for (const r of pamt as ReturnType<typeof pamtRows>) {
        io.out(
          `  ${r.hpa}  ${r.type.padEnd(16)} owner ${r.owner ?? "-"}  ${r.allocator}${r.dirtyKeyIds.length > 0 ? `  dirty KeyIDs ${r.dirtyKeyIds.join(",")}` : ""}`,
        );
      }
    }
    return EXIT.OK;
  },
};
