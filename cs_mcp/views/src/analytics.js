// The get_analytics view: a chart over time per metric, the summary figures, the table of top
// URLs or SDKs, and buttons to switch between the reports this view holds (or, when the host
// lets views call tools, to fetch another report for the same range).
"use strict";

(() => {
  const { el, count, bytes, percent } = CsView;
  const REPORTS = [
    ["usage", "Usage"],
    ["status_codes", "Status codes"],
    ["cache", "Cache"],
    ["devices", "Devices"],
    ["sdk", "SDKs"],
    ["top_urls", "Top URLs"],
    ["subscription", "Launch"],
  ];
  const LABELS = Object.fromEntries(REPORTS);
  const STATUS_CLASSES = ["2xx", "3xx", "4xx", "5xx"];
  const held = new Map(); // report name -> structured answer
  let current = null;
  let lastInput = {};
  let charts = [];
  const root = document.getElementById("app");

  const num = (v) => (typeof v === "number" ? v : Number(v) || 0);
  const day = (d) => Date.UTC(+d.slice(0, 4), +d.slice(5, 7) - 1, +d.slice(8, 10)) / 1000;

  function compact(unit) {
    const short = new Intl.NumberFormat(CsView.context().locale || undefined, {
      notation: "compact",
      maximumFractionDigits: 1,
    });
    if (unit === "bytes") return (v) => bytes(v).replace(/\.\d+ /, " ");
    if (unit === "percent") return (v) => percent(v, 0);
    return (v) => short.format(v);
  }

  function formatter(unit) {
    if (unit === "bytes") return bytes;
    if (unit === "percent") return (v) => percent(v, 1);
    return count;
  }

  // Rows grouped into a time series: x = the periods, one array of values per series name.
  function series(rows, pick, order) {
    const byDate = new Map();
    const names = new Set(order || []);
    for (const row of rows) {
      if (typeof row.date !== "string") continue;
      if (!byDate.has(row.date)) byDate.set(row.date, new Map());
      for (const [name, value] of pick(row)) {
        if (value === null || value === undefined) continue;
        names.add(name);
        const bucket = byDate.get(row.date);
        bucket.set(name, (bucket.get(name) || 0) + value);
      }
    }
    const dates = [...byDate.keys()].sort();
    const list = [...names];
    return {
      dates,
      names: list,
      values: list.map((name) => dates.map((d) => (byDate.get(d).has(name) ? byDate.get(d).get(name) : null))),
    };
  }

  function statusClass(status) {
    const code = parseInt(status, 10);
    return Number.isFinite(code) ? `${Math.floor(code / 100)}xx` : String(status);
  }

  function topNames(rows, key, n) {
    const totals = new Map();
    for (const row of rows) if (row[key] !== undefined) totals.set(row[key], (totals.get(row[key]) || 0) + num(row.count));
    return [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name]) => name);
  }

  function chartSpecs(report, rows) {
    switch (report) {
      case "usage":
        return [
          { title: "Requests", unit: "count", ...series(rows, (r) => [["API", r.total_api_count], ["CDN", r.total_cdn_count]]) },
          { title: "Bandwidth", unit: "bytes", ...series(rows, (r) => [["API", r.total_api_bandwidth], ["CDN", r.total_cdn_bandwidth]]) },
        ];
      case "status_codes":
        return [
          {
            title: "Responses by status class (stacked)",
            unit: "count",
            stacked: true,
            ...series(rows, (r) => (r.status === undefined ? [] : [[statusClass(r.status), num(r.count)]]), STATUS_CLASSES),
          },
        ];
      case "cache": {
        const counts = series(rows, (r) => (r.status === undefined ? [] : [[r.status, num(r.count)]]), ["HIT", "MISS"]);
        const hits = counts.values[counts.names.indexOf("HIT")] || [];
        const misses = counts.values[counts.names.indexOf("MISS")] || [];
        const ratio = counts.dates.map((_, i) => {
          const whole = (hits[i] || 0) + (misses[i] || 0);
          return whole ? (hits[i] || 0) / whole : null;
        });
        return [
          { title: "Cache hit ratio", unit: "percent", dates: counts.dates, names: ["Hit ratio"], values: [ratio] },
          { title: "Responses from cache and origin (stacked)", unit: "count", stacked: true, ...counts },
        ];
      }
      case "devices":
        return [{ title: "Requests by device", unit: "count", ...series(rows, (r) => (r.device === undefined ? [] : [[r.device, num(r.count)]])) }];
      case "sdk": {
        const top = topNames(rows, "sdk", 5);
        return [
          {
            title: "Requests by SDK (top 5)",
            unit: "count",
            ...series(rows, (r) => (top.includes(r.sdk) ? [[r.sdk, num(r.count)]] : []), top),
          },
        ];
      }
      case "subscription":
        return [
          { title: "Requests", unit: "count", ...series(rows, (r) => [["Requests", r.count]]) },
          { title: "Bandwidth", unit: "bytes", ...series(rows, (r) => [["Bandwidth", r.bandwidth]]) },
          { title: "Build minutes", unit: "count", ...series(rows, (r) => [["Build minutes", r.buildMinutes]]) },
        ];
      default: {
        // A report this view does not know: a chart per measure the rows carry.
        const measures = new Set();
        for (const r of rows) for (const [k, v] of Object.entries(r)) if (typeof v === "number") measures.add(k);
        return [...measures].map((m) => ({
          title: m,
          unit: m.includes("bandwidth") ? "bytes" : "count",
          ...series(rows, (r) => [[m, r[m]]]),
        }));
      }
    }
  }

  function half(xs) {
    return xs.length > 1 ? (xs[1] - xs[0]) / 2 : 43200;
  }

  function drawChart(box, spec) {
    const palette = [1, 2, 3, 4, 5, 6].map((i) => CsView.color(`--chart-${i}`));
    const text = CsView.color("--color-text-secondary");
    const grid = CsView.color("--color-border-secondary");
    const format = formatter(spec.unit);
    const colorOf = (i) => palette[i % palette.length];
    const xs = spec.dates.map(day);
    let shown = spec.names.map((name, i) => ({ name, raw: spec.values[i], values: spec.values[i], color: colorOf(i) }));
    if (spec.stacked) {
      // Stacked bars: each series is drawn up to the running total, the largest first, so
      // every class shows as its own band.
      const running = xs.map(() => 0);
      shown = shown.map((s) => ({
        ...s,
        values: s.raw.map((v, i) => (running[i] += v || 0)),
      }));
      shown.reverse();
    }
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts = {
      width: Math.max(280, box.clientWidth),
      height: 190,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      cursor: { drag: { x: false, y: false } },
      scales: {
        // Bars need half a period of room at each end, or the first and last are cut in half.
        x: { time: true, range: (u, min, max) => (spec.stacked ? [min - half(xs), max + half(xs)] : [min, max]) },
        y: spec.unit === "percent" ? { range: [0, 1] } : { range: (u, min, max) => [0, max || 1] },
      },
      axes: [axis, { ...axis, size: 62, values: (u, ticks) => ticks.map(compact(spec.unit)) }],
      series: [
        { value: (u, ts) => (ts == null ? "" : new Date(ts * 1000).toISOString().slice(0, 10)) },
        ...shown.map((s) => ({
          label: s.name,
          stroke: s.color,
          width: spec.stacked ? 0 : 2,
          fill: spec.stacked ? s.color : undefined,
          paths: spec.stacked ? uPlot.paths.bars({ size: [0.8, 40] }) : undefined,
          points: { show: !spec.stacked && xs.length < 40 },
          value: (u, v, si, i) => (i == null || s.raw[i] == null ? "–" : format(s.raw[i])),
        })),
      ],
    };
    const marks = shown.reduce((n, s) => n + s.raw.filter((v) => v !== null && v !== undefined).length, 0);
    box.dataset.series = String(shown.length);
    box.dataset.points = String(xs.length);
    box.dataset.marks = String(marks);
    box.setAttribute("role", "img");
    box.setAttribute("aria-label", `${spec.title}: ${spec.names.join(", ")}, ${xs.length} periods from ${spec.dates[0]} to ${spec.dates[spec.dates.length - 1]}`);
    const chart = new uPlot(opts, [xs, ...shown.map((s) => s.values)], box);
    charts.push({ chart, box });
  }

  function figure(key, label, value, detail) {
    return el("div", { class: "figure", "data-figure": key }, el("div", { class: "label", text: label }), el("div", { class: "value", text: value }), detail ? el("div", { class: "detail", text: detail }) : null);
  }

  function figures(data) {
    const t = data.totals || {};
    const s = data.summary || {};
    const metricFormat = s.metric === "bandwidth" ? bytes : count;
    const out = [];
    const requests = t.count !== undefined ? t.count : t.total_api_count !== undefined ? num(t.total_api_count) + num(t.total_cdn_count) : undefined;
    if (requests !== undefined) {
      const split = t.total_api_count !== undefined ? `API ${count(t.total_api_count)} · CDN ${count(t.total_cdn_count)}` : null;
      out.push(figure("requests", "Requests", count(requests), split));
    }
    const bandwidth = t.bandwidth !== undefined ? t.bandwidth : t.total_api_bandwidth !== undefined ? num(t.total_api_bandwidth) + num(t.total_cdn_bandwidth) : undefined;
    if (bandwidth !== undefined) out.push(figure("bandwidth", "Bandwidth", bytes(bandwidth)));
    if (t.buildMinutes !== undefined) out.push(figure("build-minutes", "Build minutes", count(t.buildMinutes)));
    if (s.cache_hit_share !== null && s.cache_hit_share !== undefined) out.push(figure("cache-hit", "Cache hit ratio", percent(s.cache_hit_share)));
    if (s.error_rate !== null && s.error_rate !== undefined) {
      out.push(figure("errors", "Errors (4xx and 5xx)", percent(s.error_rate, 2), `5xx: ${percent(s.server_error_rate || 0, 2)}`));
    }
    if (s.top_periods && s.top_periods.length) {
      const best = s.top_periods[0];
      out.push(figure("busiest", `Busiest ${data.duration || "day"}`, best.key, metricFormat(best.value)));
    }
    if (s.by_service && s.by_service.length > 1) {
      const whole = s.by_service.reduce((n, x) => n + x.value, 0);
      out.push(figure("largest-service", "Largest service", s.by_service[0].key, whole ? `${percent(s.by_service[0].value / whole, 0)} of the total` : null));
    }
    out.push(figure("rows", "Rows", count(data.total_rows || 0), data.truncated ? `${count(data.returned)} returned` : null));
    return el("div", { class: "figures" }, out);
  }

  function ranking(title, entries, unitFormat, extra) {
    const whole = entries.reduce((n, e) => n + e.value, 0) || 1;
    const top = entries[0] ? entries[0].value : 1;
    const body = entries.map((e, i) =>
      el(
        "tr",
        {},
        el("td", { class: "num muted", text: i + 1 }),
        el("td", { class: "wrap mono", text: e.key }),
        extra ? el("td", { text: e.extra || "" }) : null,
        el("td", { class: "num", text: unitFormat(e.value) }),
        el("td", { class: "num", text: percent(e.value / whole) }),
        (() => {
          const bar = el("div", { class: "bar" });
          bar.style.width = `${Math.max(1, (100 * e.value) / top)}%`;
          return el("td", { class: "bar-cell" }, bar);
        })(),
      ),
    );
    return el(
      "section",
      { "data-table": title },
      el("h2", { text: title }),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", { class: "num", text: "#" }), el("th", { text: title.replace(/^Top /, "").replace(/s$/, "") }), extra ? el("th", { text: extra }) : null, el("th", { class: "num", text: "Requests" }), el("th", { class: "num", text: "Share" }), el("th", { text: "" }))), el("tbody", {}, body)),
    );
  }

  function aggregate(rows, key) {
    const totals = new Map();
    for (const row of rows) {
      if (row[key] === undefined) continue;
      const entry = totals.get(row[key]) || { key: String(row[key]), value: 0, services: new Set() };
      entry.value += num(row.count);
      if (row.type) entry.services.add(row.type);
      totals.set(row[key], entry);
    }
    return [...totals.values()]
      .sort((a, b) => b.value - a.value)
      .map((e) => ({ key: e.key, value: e.value, extra: [...e.services].sort().join(", ") }));
  }

  function tables(data) {
    const rows = data.rows || [];
    const s = data.summary || {};
    if (data.report === "top_urls") return [ranking("Top URLs", aggregate(rows, "url"), count, "Services")];
    if (data.report === "sdk") return [ranking("SDKs", aggregate(rows, "sdk"), count, "Services")];
    const labels = { devices: "Devices", status_codes: "Status codes", top_urls: "Top URLs", top_sdks: "SDKs" };
    return Object.entries(s.top_values || {})
      .filter(([, entries]) => entries.length)
      .map(([label, entries]) => ranking(labels[label] || label, entries, s.metric === "bandwidth" ? bytes : count));
  }

  function tabs() {
    const bar = el("div", { class: "tabs", role: "toolbar", "aria-label": "Reports" });
    for (const [name, label] of REPORTS) {
      const have = held.has(name);
      const canFetch = !have && CsView.canCallTools() && current !== null && Boolean(held.get(current).from_date);
      bar.append(
        el("button", {
          "data-report": name,
          "aria-pressed": name === current ? "true" : "false",
          disabled: !have && !canFetch,
          title: have ? null : canFetch ? `Read the ${label} report for the same range` : "Ask for this report",
          text: label,
          onclick: () => (have ? show(name) : fetchReport(name)),
        }),
      );
    }
    return bar;
  }

  async function fetchReport(name) {
    const base = held.get(current);
    setStatus(`Reading the ${LABELS[name]} report…`);
    try {
      const args = { report: name, from_date: base.from_date, to_date: base.to_date };
      if (name !== "subscription" && name !== "top_urls") args.duration = base.duration;
      const result = await CsView.callTool("get_analytics", args);
      take(result);
    } catch (error) {
      setStatus(`The host could not read that report: ${error.message}`);
    }
  }

  function setStatus(message) {
    const status = document.getElementById("status");
    if (status) status.textContent = message;
  }

  function show(name) {
    current = name;
    render();
  }

  function render() {
    for (const { chart } of charts) chart.destroy();
    charts = [];
    root.replaceChildren();
    const data = held.get(current);
    if (!data) return;
    const services = data.services && data.services.length ? ` · services: ${data.services.join(", ")}` : "";
    const range = data.from_date ? `${data.from_date} to ${data.to_date} · per ${data.duration || "day"}` : `job ${data.job_id || ""}`;
    root.append(
      el("h1", { text: `Analytics: ${LABELS[data.report] || data.report}` }),
      el("div", { class: "sub", text: `${range}${services}` }),
      tabs(),
      el("div", { id: "status" }),
    );
    if (data.status === "timed_out") {
      root.append(el("div", { class: "notice warning", text: data.note || "The report's jobs were still running." }));
      return;
    }
    root.append(figures(data));
    const lines = (data.summary && data.summary.lines) || [];
    if (lines.length) root.append(el("ul", { class: "lines" }, lines.map((line) => el("li", { text: line }))));
    for (const spec of chartSpecs(data.report, data.rows || [])) {
      if (!spec.dates.length || !spec.names.length) continue;
      const box = el("div", { class: "chart", "data-chart": spec.title });
      root.append(el("section", {}, el("h2", { text: spec.title }), box));
      drawChart(box, spec);
    }
    for (const table of tables(data)) root.append(table);
    if (data.truncated) {
      root.append(el("p", { class: "sub", text: `Charts and tables show the ${count(data.returned)} rows returned of ${count(data.total_rows)}; the figures and the summary cover every row.` }));
    }
    for (const problem of data.page_errors || []) root.append(el("div", { class: "notice warning", text: problem }));
    if (data.note) root.append(el("p", { class: "sub", text: data.note }));
  }

  // The report a job's rows come from (get_analytics_job does not name it), by their fields.
  function reportOf(rows) {
    const row = rows.find((r) => Object.keys(r).length > 1) || {};
    if ("total_api_count" in row || "total_cdn_count" in row) return "usage";
    if ("buildMinutes" in row) return "subscription";
    if ("url" in row) return "top_urls";
    if ("sdk" in row) return "sdk";
    if ("device" in row) return "devices";
    if (row.status === "HIT" || row.status === "MISS") return "cache";
    if ("status" in row) return "status_codes";
    return "report";
  }

  function take(result) {
    if (result.isError) {
      setStatus("");
      root.append(el("div", { class: "notice danger", text: CsView.errorText(result) }));
      return;
    }
    const data = CsView.payload(result);
    if (!data || !Array.isArray(data.rows)) return;
    const name = data.report || lastInput.report || reportOf(data.rows);
    data.report = name;
    held.set(name, data);
    current = name;
    render();
  }

  window.addEventListener("resize", () => {
    for (const { chart, box } of charts) chart.setSize({ width: Math.max(280, box.clientWidth), height: 190 });
  });
  CsView.onTheme(() => {
    if (current !== null) render();
  });
  CsView.start({
    name: "cs-mcp analytics",
    onInput: (args) => (lastInput = args),
    onResult: take,
    onCancelled: (reason) => root.append(el("div", { class: "notice warning", text: `The report was cancelled${reason ? `: ${reason}` : ""}.` })),
  });
})();
