// Draws pacer's run report from the JSON in #pacer-data. Plain DOM and SVG,
// no library: the page must work offline, from a file, in any browser.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("pacer-data").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  // Outcome colours; the test that reads the screenshot counts these pixels.
  const OUTCOME = {
    passed: "#2e9e44", failed: "#d7263d", error: "#8b1e3f", skipped: "#c9a227",
    xfailed: "#7d8b99", xpassed: "#e67e22", flaky: "#b8860b",
  };
  // Any other outcome: `rerun` in the counts, a plugin's own.
  const OTHER = "#6c5ce7";
  // Category bands: blues, teals, purples and pinks, away from every
  // outcome's hue so that a band never reads as an outcome, and dark enough
  // to stand out from the lane's ground (html.rs's tests measure both).
  const CATEGORY = ["#006eb2", "#ff338f", "#169c9a", "#9e2e93", "#174f4b", "#e033ff", "#0018cc", "#3e174f"];
  const outcomeColour = (o) => OUTCOME[o] || OTHER;
  // Only categories that ran tests take a colour, so the first, most
  // distinct colours go to the bands actually drawn.
  const categoryNames = data.categories.filter((c) => c.tests).map((c) => c.name);
  for (const t of data.tests) {
    if (t.category && !categoryNames.includes(t.category)) categoryNames.push(t.category);
  }
  const categoryColour = (c) => CATEGORY[categoryNames.indexOf(c) % CATEGORY.length];

  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const plural = (n, one, many) => n + " " + (n === 1 ? one : many);
  // "waited 1.2 s in the limiter, 2 retries after 429" for a test's calls.
  const limiterText = (t) => {
    if (!t.calls) return "";
    let text = "waited " + (t.limiter_wait || 0).toFixed(1) + " s in the limiter";
    text += ", " + plural(t.retries_429 || 0, "retry", "retries") + " after 429";
    return text + " (" + plural(t.calls, "call", "calls") + " through the proxy)";
  };
  const secs = (s) => s >= 100 ? s.toFixed(0) + "s" : s >= 10 ? s.toFixed(1) + "s" : s.toFixed(2) + "s";
  const row = (table, cells, header) => {
    const tr = el("tr");
    for (const c of cells) {
      const attrs = {};
      if (c.cls) attrs.class = c.cls;
      if (c.title) attrs.title = c.title;
      const cell = el(header ? "th" : "td", attrs, c.text !== undefined ? c.text : c);
      tr.appendChild(cell);
    }
    table.appendChild(tr);
  };

  // Summary.
  const summary = document.getElementById("summary");
  for (const [outcome, n] of Object.entries(data.counts)) {
    const chip = el("span", { class: "chip" }, n + " " + outcome);
    chip.style.background = outcomeColour(outcome);
    summary.appendChild(chip);
  }
  if (data.deselected) summary.appendChild(el("span", { class: "chip muted" }, data.deselected + " deselected"));
  if (data.not_run) summary.appendChild(el("span", { class: "chip muted" }, data.not_run + " not run"));
  const fact = (label, value, title) => {
    const f = el("span", title ? { class: "fact", title: title } : { class: "fact" }, label + " ");
    f.appendChild(el("b", {}, String(value)));
    summary.appendChild(f);
  };
  fact("wall", secs(data.elapsed), "from the start of the run, before the first worker, to the last worker's exit: the workers' start-up, collection and session teardown included");
  // With `workers = "auto"`, the workers beyond the cores for tests that
  // wait (issue 21): said beside the count, and their lanes marked.
  const wait = data.wait_workers || null;
  if (wait) {
    fact("workers", data.workers + " (" + wait.cores + " + " + wait.extra + " for tests that wait)",
      Math.round(100 * wait.waiting) + "% of the suite's recorded time was waiting: " + wait.why);
  } else {
    fact("workers", data.workers);
  }
  const extraLane = (worker) => {
    const m = /^gw(\d+)$/.exec(worker);
    return wait !== null && m !== null && Number(m[1]) >= wait.cores;
  };
  const work = data.tests.reduce((s, t) => s + (t.end - t.start), 0);
  fact("test time", secs(work));
  if (data.exit_code !== null) fact("exit code", data.exit_code);
  if (data.python) fact("Python", data.python);
  if (data.pytest) fact("pytest", data.pytest);
  fact("pacer", data.pacer);
  if (data.run_id) fact("run", data.run_id);
  if (data.shard) fact("shard", data.shard.index + "/" + data.shard.count);
  if ((data.shards || []).length) {
    fact("shards", data.shards.length, "merged by pacer report merge; exit codes " + data.shards.map((s) => s.shard.index + ": " + s.exit_code).join(", "));
  }
  if (data.started_at) fact("started", data.started_at);
  if (data.stopped) fact("stopped", data.stopped);
  if (data.interrupted) fact("interrupted", data.interrupted);

  // Legend.
  const legend = document.getElementById("legend");
  const swatch = (colour, label) => {
    const item = el("span");
    const s = el("span", { class: "swatch" });
    s.style.background = colour;
    item.appendChild(s);
    item.appendChild(document.createTextNode(label));
    legend.appendChild(item);
  };
  for (const o of Object.keys(data.counts)) swatch(outcomeColour(o), o);
  if (data.tests.some((t) => (t.waits || []).length)) {
    swatch("repeating-linear-gradient(45deg, rgba(0,0,0,.55) 0 2px, rgba(0,0,0,.15) 2px 4px)", "waiting in the limiter");
  }
  if (data.tests.some((t) => (t.retry_marks || []).length)) swatch("#111111", "retry after 429 (tick)");
  for (const c of categoryNames) {
    if (data.tests.some((t) => t.category === c)) swatch(categoryColour(c), "category " + c);
  }

  // Timeline: a lane per worker; bars at the tests' start and end.
  const timeline = document.getElementById("timeline");
  const LABEL = 170, LANE = 26, BAR = 18, BAND = 4, TOP = 22, RIGHT = 16;
  const width = Math.max(720, (document.getElementById("timeline-box").clientWidth || 1000) - 2);
  const span = Math.max(data.elapsed, 1e-6);
  const scale = (width - LABEL - RIGHT) / span;
  // A merged report's lanes come in groups (a shard's workers): each group
  // opens with a row naming it, and its lanes are drawn inside it.
  const rows = [];
  let openGroup = null;
  for (const lane of data.lanes) {
    if (lane.group && lane.group !== openGroup) rows.push({ group: lane.group });
    openGroup = lane.group || null;
    rows.push({ lane: lane });
  }
  const height = TOP + rows.length * LANE + 6;
  timeline.setAttribute("width", width);
  timeline.setAttribute("height", height);
  timeline.setAttribute("viewBox", "0 0 " + width + " " + height);
  const defs = svg("defs");
  const pattern = svg("pattern", { id: "idle", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
  pattern.appendChild(svg("rect", { width: 6, height: 6, fill: "#f1f3f6" }));
  pattern.appendChild(svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#d5dae2", "stroke-width": 2 }));
  defs.appendChild(pattern);
  // Time a test's calls waited in the limiter: a darker hatch over its bar.
  const waiting = svg("pattern", { id: "waiting", width: 4, height: 4, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
  waiting.appendChild(svg("rect", { width: 4, height: 4, fill: "rgba(0,0,0,0.18)" }));
  waiting.appendChild(svg("line", { x1: 0, y1: 0, x2: 0, y2: 4, stroke: "rgba(0,0,0,0.55)", "stroke-width": 2 }));
  defs.appendChild(waiting);
  timeline.appendChild(defs);
  // The time axis, in steps of 1, 2 or 5 times a power of ten.
  const raw = span / 8;
  const pow = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw);
  for (let t = 0; t <= span + 1e-9; t += step) {
    const x = LABEL + t * scale;
    timeline.appendChild(svg("line", { x1: x, y1: TOP - 4, x2: x, y2: height, stroke: "#e6e9ef" }));
    timeline.appendChild(svg("text", { x: x + 2, y: TOP - 8 }, secs(t)));
  }
  // A lane's counts follow its name: a merged report's (`s2-gw0`) are longer.
  const statsAt = Math.max(50, 16 + 7.5 * Math.max(0, ...data.lanes.map((l) => l.worker.length)));
  let parent = timeline;
  rows.forEach((row, i) => {
    const y = TOP + i * LANE;
    if (row.group) {
      parent = svg("g", { class: "lane-group", "data-group": row.group });
      parent.appendChild(svg("text", { class: "lane-group-label", x: 6, y: y + 15 }, row.group));
      parent.appendChild(svg("line", { x1: 0, y1: y + LANE - 2, x2: width, y2: y + LANE - 2, stroke: "#c3c9d4" }));
      timeline.appendChild(parent);
      return;
    }
    const lane = row.lane;
    if (!lane.group) parent = timeline;
    const extra = extraLane(lane.worker);
    const g = svg("g", extra ? { class: "lane extra", "data-worker": lane.worker, "data-extra": "wait" } : { class: "lane", "data-worker": lane.worker });
    const busy = data.elapsed > 0 ? Math.round(100 * lane.busy / data.elapsed) : 100;
    const label = svg("text", { class: "lane-label", x: 6, y: y + 15 }, lane.worker + (extra ? " +" : ""));
    if (extra) label.appendChild(svg("title", {}, "a worker beyond the cores, for tests that wait"));
    g.appendChild(label);
    g.appendChild(svg("text", { x: statsAt, y: y + 15 }, lane.tests + (lane.tests === 1 ? " test, " : " tests, ") + busy + "% busy"));
    const ground = svg("rect", { class: "idle", x: LABEL, y: y + 2, width: span * scale, height: BAR + BAND - 2, fill: "url(#idle)" });
    ground.appendChild(svg("title", {}, lane.worker + ": idle " + secs(lane.idle)));
    g.appendChild(ground);
    for (const t of data.tests) {
      if (t.worker !== lane.worker) continue;
      const x = LABEL + t.start * scale;
      const w = Math.max(1, (t.end - t.start) * scale);
      const bar = svg("rect", {
        class: "bar", x: x, y: y + 2, width: w, height: BAR - 2,
        fill: outcomeColour(t.outcome), "data-id": t.id, "data-outcome": t.outcome,
      });
      let tip = t.id + "\n" + t.outcome + " in " + secs(t.end - t.start) + (t.category ? " · " + t.category : "");
      for (const [p, d] of Object.entries(t.phases)) tip += "\n" + p + " " + secs(d);
      if (t.reruns) tip += "\nreruns " + t.reruns;
      if (t.calls) tip += "\n" + limiterText(t);
      bar.appendChild(svg("title", {}, tip));
      g.appendChild(bar);
      // Waits and retries where they happened, kept within the bar (its
      // edges are when pacer heard of the test, a moment after the worker).
      const clip = (at) => Math.min(Math.max(at, t.start), t.end);
      for (const [from, to] of t.waits || []) {
        const a = clip(from), b = clip(to);
        if (b <= a) continue;
        g.appendChild(svg("rect", {
          class: "wait", x: LABEL + a * scale, y: y + 2, width: Math.max(1, (b - a) * scale), height: BAR - 2,
          fill: "url(#waiting)", "data-id": t.id, "pointer-events": "none",
        }));
      }
      for (const at of t.retry_marks || []) {
        const rx = LABEL + clip(at) * scale;
        g.appendChild(svg("line", {
          class: "retry-mark", x1: rx, y1: y - 1, x2: rx, y2: y + BAR * 0.55, stroke: "#111111", "stroke-width": 2,
          "data-id": t.id, "pointer-events": "none",
        }));
      }
      // No category, no band: a grey one would pass for an outcome's colour.
      if (t.category) {
        g.appendChild(svg("rect", { class: "band", x: x, y: y + BAR, width: w, height: BAND, fill: categoryColour(t.category) }));
      }
    }
    parent.appendChild(g);
  });

  // Per category.
  const categories = document.getElementById("categories");
  const wall = { text: "wall", cls: "num", title: "from the category's first test's start to its last test's end" };
  row(categories, ["category", { text: "tests", cls: "num" }, "outcomes", { text: "test time", cls: "num" }, wall, { text: "workers", cls: "num" }, "rate limited"], true);
  for (const c of data.categories) {
    if (!c.tests) continue;
    const outcomes = Object.entries(c.counts).map(([o, n]) => n + " " + o).join(", ") || "—";
    row(categories, [c.name, { text: String(c.tests), cls: "num" }, outcomes, { text: secs(c.work), cls: "num" }, { text: secs(c.wall), cls: "num" }, { text: String(c.workers), cls: "num" }, c.rate_limited ? "yes" : "no"]);
  }

  // Slowest tests.
  const slowest = document.getElementById("slowest");
  row(slowest, [{ text: "seconds", cls: "num" }, "test", "category", "worker", "outcome"], true);
  const bySpan = data.tests.slice().sort((a, b) => (b.end - b.start) - (a.end - a.start)).slice(0, 15);
  for (const t of bySpan) {
    row(slowest, [{ text: (t.end - t.start).toFixed(3), cls: "num" }, { text: t.id, cls: "id" }, t.category || "—", t.worker, t.outcome]);
  }

  // Upstreams: whatever statistics the proxies handed back, shown as they are named.
  if (data.upstreams.length) {
    document.getElementById("upstreams-section").hidden = false;
    const box = document.getElementById("upstreams");
    for (const u of data.upstreams) {
      const stats = u.stats || u;
      const div = el("div", { class: "upstream" });
      div.appendChild(el("h3", {}, (stats.name || "upstream") + (u.upstream_url ? " (" + u.upstream_url + ")" : "")));
      const table = el("table");
      row(table, ["statistic", { text: "value", cls: "num" }], true);
      for (const [k, v] of Object.entries(stats)) {
        if (k === "name" || (typeof v === "object" && v !== null)) continue;
        const shown = typeof v === "number" && !Number.isInteger(v) ? v.toFixed(3) : String(v);
        row(table, [k.replace(/_/g, " "), { text: shown, cls: "num" }]);
      }
      div.appendChild(table);
      if (u.series) div.appendChild(rateChart(u.series, stats));
      const outside = (data.calls_outside_tests || []).find((o) => o.upstream === stats.name);
      if (outside && outside.calls) {
        div.appendChild(el("p", { class: "hint" }, plural(outside.calls, "call", "calls") + " outside any test (imports, session ends, or not told apart): waited " + outside.limiter_wait.toFixed(1) + " s, " + plural(outside.retries_429, "retry", "retries") + " after 429"));
      }
      box.appendChild(div);
    }
  }

  // The rate an upstream got over time (admissions per second, one bar per
  // bucket) against the rate the limiter paced to (the stepped line: the
  // configured or learned quota, lowered by AIMD) and the configured rate
  // (dashed); buckets with 429s get a red mark.
  function rateChart(series, stats) {
    const W = 640, H = 170, L = 44, R = 12, T = 12, B = 26;
    const chart = svg("svg", { class: "rate-chart", width: W, height: H, viewBox: "0 0 " + W + " " + H, "data-buckets": series.admitted.length });
    const n = series.admitted.length;
    const rates = series.admitted.map((a) => a / series.step);
    const limits = series.limit.map((l) => (l === null || !isFinite(l) ? null : l));
    const configured = isFinite(stats.configured_rate) ? stats.configured_rate : null;
    const top = Math.max(1, ...rates, ...limits.filter((l) => l !== null), configured || 0) * 1.1;
    const end = Math.max(series.start + n * series.step, data.elapsed, 1e-6);
    const from = Math.min(0, series.start);
    const xAt = (t) => L + (t - from) / (end - from) * (W - L - R);
    const yAt = (r) => T + (1 - r / top) * (H - T - B);
    chart.appendChild(svg("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "#fafbfc", stroke: "#d9dee7" }));
    for (const f of [0, 0.5, 1]) {
      const r = top / 1.1 * f;
      chart.appendChild(svg("text", { x: L - 4, y: yAt(r) + 4, "text-anchor": "end" }, r >= 10 ? r.toFixed(0) : r.toFixed(1)));
    }
    chart.appendChild(svg("text", { x: L, y: H - 6 }, secs(Math.max(0, from))));
    chart.appendChild(svg("text", { x: W - R, y: H - 6, "text-anchor": "end" }, secs(end) + " · requests per second"));
    series.admitted.forEach((a, i) => {
      if (!a) return;
      const t0 = series.start + i * series.step;
      const bar = svg("rect", {
        class: "rate-bucket", x: xAt(t0), y: yAt(rates[i]), width: Math.max(1, xAt(t0 + series.step) - xAt(t0) - 1),
        height: yAt(0) - yAt(rates[i]), fill: "#4c78a8",
      });
      bar.appendChild(svg("title", {}, secs(Math.max(0, t0)) + ": " + plural(a, "request", "requests") + " admitted" + (series.seen_429[i] ? ", " + series.seen_429[i] + " × 429" : "")));
      chart.appendChild(bar);
    });
    let path = "";
    limits.forEach((l, i) => {
      if (l === null) return;
      const t0 = series.start + i * series.step;
      path += (path ? " L" : "M") + xAt(t0) + " " + yAt(l) + " L" + xAt(t0 + series.step) + " " + yAt(l);
    });
    if (path) chart.appendChild(svg("path", { class: "rate-limit", d: path, fill: "none", stroke: "#e67e22", "stroke-width": 2 }));
    if (configured !== null) {
      chart.appendChild(svg("line", { class: "rate-configured", x1: L, x2: W - R, y1: yAt(configured), y2: yAt(configured), stroke: "#5d6778", "stroke-dasharray": "5 4" }));
    }
    series.seen_429.forEach((c, i) => {
      if (!c) return;
      const x = xAt(series.start + (i + 0.5) * series.step);
      const mark = svg("path", { class: "mark-429", d: "M" + (x - 5) + " " + (T + 1) + " L" + (x + 5) + " " + (T + 1) + " L" + x + " " + (T + 9) + " Z", fill: "#d7263d" });
      mark.appendChild(svg("title", {}, c + " × 429"));
      chart.appendChild(mark);
    });
    const wrap = el("div", { class: "rate-chart-box" });
    const key = el("p", { class: "hint" }, "Achieved rate per " + secs(series.step) + " (bars) against the rate the limiter paced to (orange) and the configured rate (dashed); ▼ marks 429s.");
    wrap.appendChild(key);
    wrap.appendChild(chart);
    return wrap;
  }

  // A message's first line for a folded failure (an assertion's message
  // runs on with its diff, which the traceback below shows in full), with
  // an ellipsis where anything was cut.
  const headline = (message) => {
    const lines = message.trim().split(/\r?\n/);
    let line = lines[0].trimEnd();
    if (line.length > 200) line = line.slice(0, 199).trimEnd() + "…";
    else if (lines.length > 1) line += " …";
    return line;
  };

  // Failures with their output.
  const failed = data.tests.filter((t) => t.output);
  const broken = data.collection.filter((c) => c.outcome === "error");
  if (failed.length || broken.length) {
    document.getElementById("failures-section").hidden = false;
    const box = document.getElementById("failures");
    const entry = (title, text) => {
      const d = el("details", failed.length + broken.length <= 5 ? { open: "" } : {});
      d.appendChild(el("summary", {}, title));
      d.appendChild(el("pre", {}, text));
      box.appendChild(d);
    };
    for (const e of broken) entry("ERROR collecting " + e.id, e.output);
    for (const t of failed) entry(t.outcome.toUpperCase() + " " + t.id + (t.message ? " — " + headline(t.message) : "") + " [" + t.worker + "]", t.output);
  }

  document.body.setAttribute("data-rendered", "1");
  document.body.setAttribute("data-lanes", String(timeline.querySelectorAll(".lane").length));
  document.body.setAttribute("data-extra-lanes", String(timeline.querySelectorAll(".lane.extra").length));
  document.body.setAttribute("data-lane-groups", String(timeline.querySelectorAll(".lane-group").length));
  document.body.setAttribute("data-bars", String(timeline.querySelectorAll(".bar").length));
  document.body.setAttribute("data-wait-marks", String(timeline.querySelectorAll(".wait").length));
  document.body.setAttribute("data-retry-marks", String(timeline.querySelectorAll(".retry-mark").length));
  document.body.setAttribute("data-rate-charts", String(document.querySelectorAll(".rate-chart").length));
})();
