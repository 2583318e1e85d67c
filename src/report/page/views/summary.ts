/**
 * The report page's summary: the scenario, its verdict badge, the run's figures and its notes (unmet
 * expectations, unexpected findings, model reports, conservation violations). Browser code.
 */
import type { PageState } from "../state.js";
import { $, fmt, h, hpaOf, put, VERDICT_CLASS } from "../ui.js";

/** Draws `#summary` (once: it does not change with the slider). */
export function renderSummary(st: PageState): void {
  const m = st.m;
  const r = m.run;
  // Green only for a clean run: findings the scenario expected are amber, never a green badge.
  const verdict = r.verdict ?? (r.ok ? "clean" : "problems found");
  const t = r.totals;
  const fig = (key: string, label: string, value: string, cls = "") =>
    h("div", `fig ${cls}`, h("span", { class: "v", "data-fig": key }, value), h("span", "l", label));
  put(
    $("summary"),
    h(
      "div",
      "title",
      h("h1", null, m.scenario),
      h(
        "span",
        { class: `verdict ${VERDICT_CLASS[verdict] ?? "bad"}`, "data-verdict": verdict },
        verdict,
        ` (exit ${r.exitCode})`,
      ),
    ),
    h("p", "desc", m.description, h("span", "platform", ` Platform: ${m.platform}.`)),
    h(
      "div",
      "figs",
      fig("calls", "SEAMCALLs by the host", fmt(t.calls)),
      fig("interrupts", "interrupts resumed", fmt(t.interrupts)),
      fig("hazards", "hazards", fmt(t.hazards), t.hazards > 0 ? "bad" : ""),
      fig("reports", "model reports", fmt(t.reports), t.reports > 0 ? "bad" : ""),
      fig("donated", "pages donated", `${fmt(t.pages.donated)}`),
      fig("moduleOwned", "module-owned now", fmt(t.pages.moduleOwned)),
      fig("returned", "returned", fmt(t.pages.returned)),
      fig("stranded", "stranded", fmt(t.pages.stranded), t.pages.stranded > 0 ? "bad" : ""),
      fig(
        "conservation",
        "conservation",
        r.conservation.ok ? "ok" : `FAILED (${r.conservation.violationCount})`,
        r.conservation.ok ? "" : "bad",
      ),
      fig("pagesInvolved", "pages on the map", fmt(m.figures.pagesInvolved)),
    ),
    h(
      "div",
      "notes",
      r.expectations.total > 0
        ? h("span", null, `expectations: ${r.expectations.met}/${r.expectations.total} met`)
        : null,
      ...r.expectations.notMet.map((s) => h("span", "bad", `not met: ${s}`)),
      ...r.unexpected.map((s) => h("span", "bad", `unexpected: ${s}`)),
      ...r.reports.map((x) =>
        h("span", "bad", `model report ${x.kind} page ${hpaOf(x.pfn)} by ${x.cause}: ${x.message}`),
      ),
      ...r.conservation.violations.map((s) => h("span", "bad", `violation: ${s}`)),
    ),
  );
}
