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
  const OTHER = "#6c5ce7";
  const CATEGORY = ["#1f77b4", "#9467bd", "#17becf", "#ff7f0e", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f"];
  const outcomeColour = (o) => OUTCOME[o] || OTHER;
  const categoryNames = data.categories.map((c) => c.name);
  for (const t of data.tests) {
    if (t.category && !categoryNames.includes(t.category)) categoryNames.push(t.category);
  }
  const categoryColour = (c) => c == null ? "#bbbbbb" : CATEGORY[categoryNames.indexOf(c) % CATEGORY.length];

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
  const secs = (s) => s >= 100 ? s.toFixed(0) + "s" : s >= 10 ? s.toFixed(1) + "s" : s.toFixed(2) + "s";
  const row = (table, cells, header) => {
    const tr = el("tr");
    for (const c of cells) {
      const cell = el(header ? "th" : "td", c.cls ? { class: c.cls } : {}, c.text !== undefined ? c.text : c);
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
  const fact = (label, value) => {
    const f = el("span", { class: "fact" }, label + " ");
    f.appendChild(el("b", {}, String(value)));
    summary.appendChild(f);
  };
  fact("wall", secs(data.elapsed));
  fact("workers", data.workers);
  const work = data.tests.reduce((s, t) => s + (t.end - t.start), 0);
  fact("test time", secs(work));
  if (data.exit_code !== null) fact("exit code", data.exit_code);
  if (data.python) fact("Python", data.python);
  if (data.pytest) fact("pytest", data.pytest);
  fact("pacer", data.pacer);
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
  for (const c of categoryNames) {
    if (data.tests.some((t) => t.category === c)) swatch(categoryColour(c), "category " + c);
  }

  // Timeline: a lane per worker; bars at the tests' start and end.
  const timeline = document.getElementById("timeline");
  const LABEL = 170, LANE = 26, BAR = 18, BAND = 4, TOP = 22, RIGHT = 16;
  const width = Math.max(720, (document.getElementById("timeline-box").clientWidth || 1000) - 2);
  const span = Math.max(data.elapsed, 1e-6);
  const scale = (width - LABEL - RIGHT) / span;
  const height = TOP + data.lanes.length * LANE + 6;
  timeline.setAttribute("width", width);
  timeline.setAttribute("height", height);
  timeline.setAttribute("viewBox", "0 0 " + width + " " + height);
  const defs = svg("defs");
  const pattern = svg("pattern", { id: "idle", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
  pattern.appendChild(svg("rect", { width: 6, height: 6, fill: "#f1f3f6" }));
  pattern.appendChild(svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#d5dae2", "stroke-width": 2 }));
  defs.appendChild(pattern);
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
  data.lanes.forEach((lane, i) => {
    const y = TOP + i * LANE;
    const g = svg("g", { class: "lane", "data-worker": lane.worker });
    const busy = data.elapsed > 0 ? Math.round(100 * lane.busy / data.elapsed) : 100;
    g.appendChild(svg("text", { class: "lane-label", x: 6, y: y + 15 }, lane.worker));
    g.appendChild(svg("text", { x: 50, y: y + 15 }, lane.tests + (lane.tests === 1 ? " test, " : " tests, ") + busy + "% busy"));
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
      bar.appendChild(svg("title", {}, tip));
      g.appendChild(bar);
      g.appendChild(svg("rect", { class: "band", x: x, y: y + BAR, width: w, height: BAND, fill: categoryColour(t.category) }));
    }
    timeline.appendChild(g);
  });

  // Per category.
  const categories = document.getElementById("categories");
  row(categories, ["category", { text: "tests", cls: "num" }, "outcomes", { text: "test time", cls: "num" }, { text: "wall", cls: "num" }, { text: "workers", cls: "num" }, "rate limited"], true);
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
      box.appendChild(div);
    }
  }

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
    for (const t of failed) entry(t.outcome.toUpperCase() + " " + t.id + (t.message ? " — " + t.message : "") + " [" + t.worker + "]", t.output);
  }

  document.body.setAttribute("data-rendered", "1");
  document.body.setAttribute("data-lanes", String(timeline.querySelectorAll(".lane").length));
  document.body.setAttribute("data-bars", String(timeline.querySelectorAll(".bar").length));
})();
