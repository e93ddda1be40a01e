// The get_release view: the release's items grouped by content type and locale, items whose
// entry moved on (stale) or no longer exists highlighted, and what a deploy would do.
"use strict";

(() => {
  const { el, count } = CsView;
  const root = document.getElementById("app");
  let release = null;
  let items = [];
  let page = null;
  let input = {};

  const plural = (n, one, many) => `${count(n)} ${n === 1 ? one : many || `${one}s`}`;
  const isStale = (item) => item.newer_version_exists === true;
  const isGone = (item) => !isStale(item) && typeof item.note === "string" && item.note.length > 0 && item.latest_version == null;

  function deployLines() {
    const lines = [];
    const byAction = new Map();
    for (const item of items) {
      const action = item.action || "publish";
      const entry = byAction.get(action) || { entries: 0, assets: 0 };
      if (item.type === "asset") entry.assets += 1;
      else entry.entries += 1;
      byAction.set(action, entry);
    }
    const types = new Set(items.filter((i) => i.type === "entry").map((i) => i.content_type));
    const locales = new Set(items.map((i) => i.locale).filter(Boolean));
    for (const [action, n] of byAction) {
      const parts = [n.entries ? plural(n.entries, "entry", "entries") : null, n.assets ? plural(n.assets, "asset") : null].filter(Boolean);
      lines.push({ kind: "info", key: `action-${action}`, text: `${action[0].toUpperCase()}${action.slice(1)} ${parts.join(" and ")}` + (types.size ? ` of ${plural(types.size, "content type")}` : "") + (locales.size ? ` in ${plural(locales.size, "locale")} (${[...locales].sort().join(", ")})` : "") + "." });
    }
    const stale = items.filter(isStale);
    if (stale.length) {
      lines.push({ kind: "warning", key: "stale", text: `${plural(stale.length, "item")} would go out at an older version than the entry's latest; update the release to deploy the latest.` });
    }
    const gone = items.filter(isGone);
    if (gone.length) {
      lines.push({ kind: "danger", key: "gone", text: `${plural(gone.length, "item")} no longer exist: remove them from the release before deploying.` });
    }
    if (!stale.length && !gone.length && items.length) {
      lines.push({ kind: "success", key: "current", text: "Every item shown is at its entry's latest version." });
    }
    if (!release.locked) lines.push({ kind: "info", key: "unlocked", text: "The release is not locked: its items can still change before a deploy." });
    lines.push({ kind: "info", key: "references", text: "Whether referenced entries are published in the target environments is checked by deploy_release with dry_run=true." });
    return lines;
  }

  function versionCell(item) {
    if (item.version == null) return el("td", { class: "num muted", text: "latest" });
    if (isStale(item)) return el("td", { class: "num" }, `v${item.version} `, el("span", { class: "badge warning", text: `latest v${item.latest_version}` }));
    return el("td", { class: "num", text: `v${item.version}` });
  }

  function stateBadge(item) {
    if (isStale(item)) return el("span", { class: "badge warning", text: "stale" });
    if (isGone(item)) return el("span", { class: "badge danger", text: "missing" });
    if (item.newer_version_exists === false) return el("span", { class: "badge success", text: "current" });
    return el("span", { class: "badge", text: "unknown" });
  }

  function groupTable(list) {
    return el(
      "table",
      {},
      el("thead", {}, el("tr", {}, el("th", { text: "Title" }), el("th", { text: "UID" }), el("th", { class: "num", text: "Version" }), el("th", { text: "Action" }), el("th", { text: "State" }))),
      el(
        "tbody",
        {},
        list.map((item) =>
          el(
            "tr",
            { class: isStale(item) ? "stale" : isGone(item) ? "gone" : null, "data-item": item.uid },
            el("td", { class: "wrap", text: item.title || "(untitled)" }),
            el("td", { class: "mono", text: item.uid }),
            versionCell(item),
            el("td", { text: item.action || "publish" }),
            el("td", {}, stateBadge(item), item.note ? el("div", { class: "sub", text: item.note }) : null),
          ),
        ),
      ),
    );
  }

  function groups() {
    const byType = new Map();
    for (const item of items) {
      const type = item.type === "asset" ? "Assets" : item.content_type || "(unknown content type)";
      if (!byType.has(type)) byType.set(type, new Map());
      const locale = item.locale || "(no locale)";
      const byLocale = byType.get(type);
      if (!byLocale.has(locale)) byLocale.set(locale, []);
      byLocale.get(locale).push(item);
    }
    const names = [...byType.keys()].sort((a, b) => (a === "Assets") - (b === "Assets") || a.localeCompare(b));
    return names.map((name) => {
      const byLocale = byType.get(name);
      const total = [...byLocale.values()].reduce((n, l) => n + l.length, 0);
      return el(
        "section",
        { "data-group": name },
        el("h2", {}, `${name} `, el("span", { class: "badge", text: plural(total, "item") })),
        [...byLocale.keys()].sort().map((locale) => el("div", { "data-locale": locale }, el("h3", { text: locale }), groupTable(byLocale.get(locale)))),
      );
    });
  }

  async function loadMore() {
    const button = document.getElementById("more");
    if (button) button.disabled = true;
    try {
      const result = await CsView.callTool("get_release", { release_uid: release.uid, items_cursor: page.next_cursor, items_limit: input.items_limit });
      const data = CsView.payload(result);
      if (result.isError || !data) throw new Error(CsView.errorText(result));
      items = items.concat(data.items || []);
      page = data.items_page || null;
      render();
    } catch (error) {
      root.append(el("div", { class: "notice danger", text: `More items could not be read: ${error.message}` }));
    }
  }

  function render() {
    root.replaceChildren();
    const total = release.items_count != null ? release.items_count : items.length;
    root.append(
      el("h1", {}, `${release.name} `, release.locked ? el("span", { class: "badge info", text: "locked" }) : el("span", { class: "badge", text: "not locked" })),
      el("div", { class: "sub" }, el("span", { class: "mono", text: release.uid }), ` · ${plural(total, "item")}` + (items.length < total ? `, ${count(items.length)} shown` : "")),
      release.description ? el("p", { text: release.description }) : null,
    );
    const stale = items.filter(isStale).length;
    const gone = items.filter(isGone).length;
    root.append(
      el(
        "div",
        { class: "figures" },
        el("div", { class: "figure", "data-figure": "items" }, el("div", { class: "label", text: "Items" }), el("div", { class: "value", text: count(total) })),
        el("div", { class: "figure", "data-figure": "stale" }, el("div", { class: "label", text: "Stale versions" }), el("div", { class: "value", text: count(stale) })),
        el("div", { class: "figure", "data-figure": "missing" }, el("div", { class: "label", text: "Missing entries" }), el("div", { class: "value", text: count(gone) })),
        el("div", { class: "figure", "data-figure": "deployments" }, el("div", { class: "label", text: "Deployments" }), el("div", { class: "value", text: count((release.status || []).length) })),
      ),
    );
    root.append(el("h2", { text: "What a deploy would do" }), el("ul", { class: "lines", "data-deploy": "" }, deployLines().map((line) => el("li", { class: line.kind === "info" ? null : `notice-line ${line.kind}`, "data-line": line.key }, line.kind === "info" ? null : el("span", { class: `badge ${line.kind}`, text: line.kind === "success" ? "ok" : line.kind === "warning" ? "warning" : "problem" }), line.kind === "info" ? "" : " ", line.text))));
    if (!items.length) root.append(el("p", { class: "sub", text: "The release holds no items." }));
    root.append(...groups());
    if (page && page.next_cursor) {
      if (CsView.canCallTools()) root.append(el("button", { id: "more", text: "Show more items", onclick: loadMore }));
      else root.append(el("p", { class: "sub", text: "More items: call get_release with items_cursor." }));
    }
  }

  function take(result) {
    if (result.isError) {
      root.replaceChildren(el("div", { class: "notice danger", text: CsView.errorText(result) }));
      return;
    }
    const data = CsView.payload(result);
    if (!data || !data.release) return;
    release = data.release;
    items = data.items || [];
    page = data.items_page || null;
    render();
  }

  CsView.start({
    name: "cs-mcp release",
    onInput: (args) => (input = args),
    onResult: take,
    onCancelled: (reason) => root.append(el("div", { class: "notice warning", text: `Cancelled${reason ? `: ${reason}` : ""}.` })),
  });
})();
