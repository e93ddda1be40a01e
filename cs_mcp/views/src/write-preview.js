// The view of a write's answer (publish, unpublish, deploy, delete): what it would change or
// changed, where (environments, locales, content types), the items, the requests, the guard's
// verdict, and, when a human must agree first, the preview with a button to go ahead.
"use strict";

(() => {
  const { el, count } = CsView;
  const root = document.getElementById("app");
  let input = {};

  const plural = (n, one, many) => `${count(n)} ${n === 1 ? one : many || `${one}s`}`;
  const SHOWN_ITEMS = 100;
  // The plan's target kinds, as the guard names them.
  const TARGET_LABELS = {
    environment: "Environments",
    locale: "Locales",
    content_type: "Content types",
    release: "Releases",
    branch: "Branch",
    automation_project: "Automation projects",
  };

  function destructive(plan) {
    return /delete|unpublish/.test(plan.action || "") || input.action === "unpublish";
  }

  function headline(data) {
    if (data.confirmation) {
      return el("div", { class: "notice warning", "data-state": "confirm" }, el("strong", { text: "Needs your confirmation. " }), "Nothing was sent yet.");
    }
    if (data.dry_run) return el("div", { class: "notice info", "data-state": "dry-run" }, el("strong", { text: "Dry run. " }), "Nothing was sent.");
    const failed = data.counts && data.counts.failed;
    if (failed) return el("div", { class: "notice warning", "data-state": "partly" }, el("strong", { text: "Done, with failures. " }), `${plural(failed, "item")} failed.`);
    return el("div", { class: "notice success", "data-state": "done" }, el("strong", { text: "Done. " }), data.notice || "Sent to Contentstack.");
  }

  function targets(data) {
    const plan = data.plan || {};
    const rows = [];
    for (const [kind, names] of Object.entries(plan.targets || {})) {
      if (!names || !names.length) continue;
      rows.push(el("tr", { "data-target": kind }, el("th", { text: TARGET_LABELS[kind] || kind.replace(/_/g, " ") }), el("td", {}, el("div", { class: "chips" }, names.map((n) => el("span", { class: "chip", text: n }))))));
    }
    const when = data.scheduled_at || input.scheduled_at;
    rows.push(el("tr", { "data-target": "when" }, el("th", { text: "When" }), el("td", { text: when ? `at ${when}` : "now" })));
    return el("section", {}, el("h2", { text: "Where" }), el("table", { class: "kv" }, el("tbody", {}, rows)));
  }

  function planItems(plan) {
    const list = plan.items || [];
    if (!list.length) return null;
    const shown = list.slice(0, SHOWN_ITEMS);
    return el(
      "section",
      { "data-items": String(list.length) },
      el("h2", { text: `Items (${count(list.length)})` }),
      el("ul", { class: "lines" }, shown.map((item) => el("li", { class: "mono", text: item }))),
      list.length > shown.length ? el("p", { class: "sub", text: `and ${count(list.length - shown.length)} more` }) : null,
    );
  }

  function itemReports(data) {
    if (!Array.isArray(data.items) || !data.items.length || typeof data.items[0] !== "object") return null;
    const tone = { published: "success", unpublished: "success", scheduled: "info", submitted: "info", planned: "", failed: "danger" };
    return el(
      "section",
      {},
      el("h2", { text: "Per item" }),
      data.counts ? el("div", { class: "chips" }, Object.entries(data.counts).map(([status, n]) => el("span", { class: `badge ${tone[status] || ""}`, text: `${status}: ${count(n)}` }))) : null,
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, el("th", { text: "Item" }), el("th", { text: "Status" }), el("th", { class: "num", text: "Version" }), el("th", { text: "Locales" }), el("th", { text: "Reason" }))),
        el(
          "tbody",
          {},
          data.items.map((r) =>
            el(
              "tr",
              { class: r.status === "failed" ? "gone" : null },
              el("td", { class: "mono wrap", text: r.item }),
              el("td", {}, el("span", { class: `badge ${tone[r.status] || ""}`, text: r.status })),
              el("td", { class: "num", text: r.version == null ? "" : `v${r.version}` }),
              el("td", { text: (r.locales || []).join(", ") }),
              el("td", { class: "wrap", text: r.reason || "" }),
            ),
          ),
        ),
      ),
    );
  }

  function preflight(data) {
    const pre = data.preflight;
    if (!pre) return null;
    const parts = [
      el("h2", { text: "Preflight" }),
      el(
        "ul",
        { class: "lines" },
        (pre.checks || []).map((c) => el("li", { "data-check": c.ok ? "ok" : "failed" }, el("span", { class: `badge ${c.ok ? "success" : "warning"}`, text: c.ok ? "ok" : "check" }), ` ${c.check}: `, c.detail)),
      ),
    ];
    if ((pre.stale_items || []).length) {
      parts.push(
        el("h3", { text: `Stale items (${count(pre.stale_count || pre.stale_items.length)})` }),
        el(
          "table",
          {},
          el("thead", {}, el("tr", {}, el("th", { text: "Item" }), el("th", { text: "Locale" }), el("th", { class: "num", text: "In release" }), el("th", { class: "num", text: "Latest" }))),
          el("tbody", {}, pre.stale_items.map((s) => el("tr", { class: "stale", "data-stale": s.uid }, el("td", { class: "mono wrap", text: s.item }), el("td", { text: s.locale || "" }), el("td", { class: "num", text: s.version_in_release == null ? "" : `v${s.version_in_release}` }), el("td", { class: "num", text: `v${s.latest_version}` })))),
        ),
      );
    }
    if ((pre.missing_references || []).length) {
      parts.push(
        el("h3", { text: `References that will not resolve (${count(pre.missing_reference_count || pre.missing_references.length)})` }),
        el(
          "table",
          {},
          el("thead", {}, el("tr", {}, el("th", { text: "In item" }), el("th", { text: "Field" }), el("th", { text: "Refers to" }), el("th", { text: "Why" }))),
          el("tbody", {}, pre.missing_references.map((m) => el("tr", { class: "gone", "data-missing": m.uid }, el("td", { class: "mono wrap", text: m.item }), el("td", { class: "mono", text: m.field }), el("td", { class: "mono wrap", text: `${m.content_type}/${m.uid}${m.locale ? ` (${m.locale})` : ""}` }), el("td", { text: m.reason === "missing" ? "does not exist" : `not published in ${(m.environments || []).join(", ")}` })))),
        ),
      );
    }
    return el("section", { "data-preflight": "" }, parts);
  }

  function requests(plan) {
    const list = plan.requests || [];
    if (!list.length) return null;
    return el(
      "section",
      {},
      el("h2", { text: `Requests to Contentstack (${count(list.length)})` }),
      el("table", {}, el("tbody", {}, list.map((r) => el("tr", { "data-request": "" }, el("td", { class: "mono", text: r.method }), el("td", { class: "mono wrap", text: r.path }), el("td", { text: r.summary }))))),
    );
  }

  function verdict(data) {
    const v = data.verdict;
    if (!v) return null;
    const tone = v.decision === "allow" || v.decision === "confirmed" ? "success" : "warning";
    return el("section", {}, el("h2", { text: "The guard" }), el("p", { "data-verdict": v.decision }, el("span", { class: `badge ${tone}`, text: v.decision }), ` ${v.reason}`, v.rule ? el("span", { class: "sub", text: ` (rule ${v.rule})` }) : null));
  }

  async function confirm(token, button) {
    button.disabled = true;
    const name = CsView.toolName();
    try {
      const result = await CsView.callTool(name, Object.assign({}, input, { confirmation_token: token }));
      take(result);
    } catch (error) {
      button.disabled = false;
      root.append(el("div", { class: "notice danger", text: `The host did not run it: ${error.message}` }));
    }
  }

  function confirmation(data) {
    const c = data.confirmation;
    if (!c) return null;
    const canRun = CsView.canCallTools() && CsView.toolName();
    const button = canRun ? el("button", { id: "confirm", text: "Go ahead" }) : null;
    if (button) button.addEventListener("click", () => confirm(c.confirmation_token, button));
    return el(
      "section",
      { "data-confirmation": "" },
      el("h2", { text: "Confirmation" }),
      el("pre", { class: "preview", text: c.preview }),
      el("p", { class: "sub", text: `The confirmation is good once, until ${c.expires_at}.` }),
      button || el("p", { class: "sub", text: "Tell the assistant whether you agree." }),
    );
  }

  function render(data) {
    const plan = data.plan || {};
    root.replaceChildren(
      el("h1", {}, `${plan.summary || plan.action || "Write"} `, destructive(plan) ? el("span", { class: "badge danger", text: "removes content" }) : null),
      el("div", { class: "sub" }, "Action: ", el("span", { class: "mono", text: plan.action || "" })),
      headline(data),
    );
    for (const part of [targets(data), planItems(plan), preflight(data), itemReports(data), requests(plan), verdict(data), confirmation(data)]) {
      if (part) root.append(part);
    }
    if (data.note) root.append(el("p", { class: "sub", text: data.note }));
  }

  function take(result) {
    if (result.isError) {
      root.replaceChildren(el("div", { class: "notice danger", "data-state": "error", text: CsView.errorText(result) }));
      return;
    }
    const data = CsView.payload(result);
    if (data && data.plan) render(data);
  }

  CsView.start({
    name: "cs-mcp write preview",
    onInput: (args) => (input = args),
    onResult: take,
    onCancelled: (reason) => root.append(el("div", { class: "notice warning", text: `Cancelled${reason ? `: ${reason}` : ""}.` })),
  });
})();
