// Draws a run from its data (see ganforge/web/report.py): summary, curves, sample grids, warnings, evaluation.
// `ganforge watch` calls ganforge.render(data) again whenever the run writes; the report calls it once.
(function () {
  "use strict";
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"];
  const CHARTS = [
    { title: "Losses", keys: ["d_loss_real", "d_loss_fake", "g_loss"], source: "metrics" },
    { title: "D's accuracy", keys: ["d_acc_real", "d_acc_fake"], source: "metrics" },
    { title: "Learning rate (G)", keys: ["lr_g"], source: "metrics" },
    { title: "Augmentation probability p (ADA)", keys: ["augment_p"], source: "metrics" },
    { title: "Sample diversity / real data's", keys: ["diversity_ratio"], source: "diagnostics" },
    { title: "Modes covered", keys: ["modes_covered"], source: "diagnostics" },
    { title: "High quality (toy2d: share of samples within 3 std of a mode)", keys: ["high_quality"], source: "diagnostics" },
    { title: "Reverse KL over the modes (toy2d)", keys: ["reverse_kl"], source: "diagnostics" },
    { title: "Score for the best checkpoint (lower is better)", keys: ["fd_shapes", "fid"], source: "diagnostics" },
  ];
  const state = { charts: {}, frames: [], frame: 0, timer: null };
  window.ganforgeReport = state;  // the charts, for the console (and the browser tests)

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function duration(seconds) {
    if (seconds == null) return "unknown";
    const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
    return m ? `${m} min ${s} s` : `${s} s`;
  }

  function renderSummary(data) {
    const s = data.summary;
    document.getElementById("title").textContent = `ganforge run: ${data.name}`;
    document.getElementById("subtitle").textContent =
      `step ${s.step.toLocaleString()} of ${s.iterations.toLocaleString()}` + (data.live ? " (live)" : "");
    const rows = [
      ["preset (closest)", s.preset], ["data", s.data], ["resolution", s.resolution == null ? "2-D points" : `${s.resolution} px`],
      ["batch size", s.batch_size], ["steps", s.step.toLocaleString()], ["training time", duration(s.time_s)],
      ["images / s", s.img_per_s == null ? "unknown" : s.img_per_s.toFixed(1)],
      ["device", s.device ? s.device + (s.processes > 1 ? ` x ${s.processes} processes` : "") : "unknown"],
    ];
    if (s.best) rows.push(["best checkpoint", `step ${s.best.step.toLocaleString()}, ${s.best.metric} ${s.best.score.toPrecision(4)} (checkpoints/best.pt)`]);
    const table = document.getElementById("summary-table");
    table.replaceChildren(...rows.map(([k, v]) => { const tr = el("tr"); tr.append(el("th", k), el("td", String(v))); return tr; }));
    const box = document.getElementById("differences");
    const keys = Object.keys(s.differences);
    box.replaceChildren(el("p", keys.length ? `Settings that differ from ${s.preset}:` : `The ${s.preset} preset's settings, unchanged.`));
    if (keys.length) {
      const list = el("ul");
      for (const k of keys) { const li = el("li"); li.append(el("code", `${k} = ${JSON.stringify(s.differences[k])}`)); list.append(li); }
      box.append(list);
    }
  }

  function tick(v) {  // learning rates are 1e-4-sized: 3 significant digits, not 0
    if (v == null) return "";
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-2 || a >= 1e5) ? v.toExponential(1) : String(+v.toPrecision(3));
  }

  function warningLines(warnings) {
    return { hooks: { draw: [(u) => {
      const ctx = u.ctx, top = u.bbox.top, bottom = u.bbox.top + u.bbox.height;
      ctx.save();
      ctx.strokeStyle = "rgba(200, 30, 30, 0.8)";
      ctx.lineWidth = 1.5 * devicePixelRatio;
      for (const w of warnings) {
        const x = u.valToPos(w.step, "x", true);
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
      }
      ctx.restore();
    }] } };
  }

  function renderCharts(data) {
    const box = document.getElementById("charts");
    const width = Math.min(1040, box.clientWidth || 1000);
    for (const spec of CHARTS) {
      const rows = data[spec.source] || [];
      const keys = spec.keys.filter((k) => rows.some((r) => r[k] != null));
      const id = spec.title;
      if (!keys.length) continue;
      const series = [rows.map((r) => r.step), ...keys.map((k) => rows.map((r) => (r[k] == null ? null : r[k])))];
      const existing = state.charts[id];
      if (existing && existing.keys.join() === keys.join()) {
        existing.warnings.length = 0; existing.warnings.push(...data.warnings);
        // setData redraws, warnings too. A zoomed chart keeps its range as data arrives; one that is not
        // follows it. (No redraw() after it: that would set the old x range again before the new one is applied.)
        existing.plot.setData(series, !existing.zoomed);
        continue;
      }
      if (existing) existing.plot.destroy();
      const holder = el("div", undefined, "chart");
      holder.dataset.chart = id;
      box.append(holder);
      const chart = { keys, warnings: [...data.warnings], zoomed: false };
      // An x range inside the data's is the reader's zoom (a drag). It is read as uPlot applies each range, so
      // data arriving just after the drag cannot undo it; uPlot's double-click sets the data's range: zoomed out.
      const zoomWatch = (u, key) => {
        const xs = u.data[0], x = u.scales.x;
        if (key === "x" && xs.length > 1 && x.min != null) chart.zoomed = x.min > xs[0] || x.max < xs[xs.length - 1];
      };
      chart.plot = new uPlot({
        title: id, width, height: 240, plugins: [warningLines(chart.warnings)], hooks: { setScale: [zoomWatch] },
        scales: { x: { time: false } }, cursor: { drag: { x: true, y: false } },
        series: [{ label: "step" }, ...keys.map((k, i) => ({ label: k, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true }))],
        axes: [{ label: "step" }, { size: 60, values: (u, ticks) => ticks.map(tick) }],
      }, series, holder);
      state.charts[id] = chart;
    }
  }

  function showFrame(index) {
    if (!state.frames.length) return;
    state.frame = Math.max(0, Math.min(index, state.frames.length - 1));
    const frame = state.frames[state.frame];
    const slider = document.getElementById("frame");
    slider.value = state.frame;
    document.getElementById("grid").src = frame.src;
    document.getElementById("frame-step").textContent = `step ${frame.step.toLocaleString()} (${state.frame + 1} of ${state.frames.length})`;
  }

  function renderFrames(data) {
    const slider = document.getElementById("frame");
    const atEnd = state.frame >= state.frames.length - 1;
    state.frames = data.frames || [];
    slider.max = Math.max(0, state.frames.length - 1);
    document.getElementById("samples").hidden = !state.frames.length;
    showFrame(atEnd ? state.frames.length - 1 : state.frame);
  }

  function renderWarnings(data) {
    const list = document.getElementById("warnings");
    if (!data.warnings.length) { list.replaceChildren(el("li", "No warnings: none of the diagnosis's symptoms was seen.", "empty")); return; }
    list.replaceChildren(...data.warnings.map((w) => { const li = el("li"); li.append(el("span", `step ${w.step}: `, "step"), w.message); return li; }));
  }

  function formatResult(v) {  // a number, or a per-shape table ({circle: 20, ...}) on one line
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(4);
    if (v && typeof v === "object") return Object.entries(v).map(([k, x]) => `${k} ${formatResult(x)}`).join(", ");
    return JSON.stringify(v);
  }

  function renderEvaluation(data) {
    const box = document.getElementById("evaluation");
    if (!data.evaluation) { box.replaceChildren(el("p", "Not evaluated yet: ganforge eval RUN writes eval-STEP.json, shown here.", "empty")); return; }
    const table = el("table");
    for (const [k, v] of Object.entries(data.evaluation.results)) {
      const tr = el("tr"); tr.append(el("th", k), el("td", formatResult(v))); table.append(tr);
    }
    box.replaceChildren(el("p", data.evaluation.file), table);
  }

  function render(data) {
    renderSummary(data);
    renderFrames(data);
    renderCharts(data);
    renderWarnings(data);
    renderEvaluation(data);
    document.body.dataset.step = String(data.summary.step);
    document.body.dataset.ready = "1";
  }

  function setUpPlayer() {
    const slider = document.getElementById("frame"), button = document.getElementById("play");
    slider.addEventListener("input", () => showFrame(Number(slider.value)));
    button.addEventListener("click", () => {
      if (state.timer) { clearInterval(state.timer); state.timer = null; button.textContent = "Play"; return; }
      if (state.frame >= state.frames.length - 1) showFrame(0);
      button.textContent = "Pause";
      state.timer = setInterval(() => {
        if (state.frame >= state.frames.length - 1) { button.click(); return; }
        showFrame(state.frame + 1);
      }, 400);
    });
  }

  window.ganforge = { render };
  document.addEventListener("DOMContentLoaded", () => {
    setUpPlayer();
    const blob = document.getElementById("run-data");
    if (blob && blob.textContent.trim()) render(JSON.parse(blob.textContent));
  });
})();
