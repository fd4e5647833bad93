// cyclewatch dashboard: tooltips on the regime timeline and interactive milestone charts
// (uPlot, bundled and served by the bot). Everything here only reads this server's JSON.
"use strict";

(function () {
  const island = JSON.parse(document.getElementById("dash-data").textContent);
  const t = island.t;

  function monthAt(svg, clientX) {
    const box = svg.getBoundingClientRect();
    const share = Math.min(Math.max((clientX - box.left) / box.width, 0), 0.999999);
    return Math.floor(share * island.months.length);
  }

  function regimeOf(asOf) {
    for (const seg of document.querySelectorAll("#timeline .seg")) {
      if (seg.dataset.from <= asOf && asOf <= seg.dataset.to) return seg.dataset.regime;
    }
    return "";
  }

  function line(text, cls) {
    const el = document.createElement("div");
    if (cls) el.className = cls;
    el.textContent = text;
    return el;
  }

  function setupTimeline() {
    const svg = document.getElementById("timeline");
    const tip = document.getElementById("tip");
    if (!svg || !tip || !island.months.length) return;
    function show(event) {
      const index = monthAt(svg, event.clientX);
      const asOf = island.months[index];
      const regime = regimeOf(asOf);
      tip.replaceChildren(
        line(`${t.month}: ${asOf.slice(0, 7)}`, "tip-date"),
        line(`${t.regime}: ${island.names[regime] || regime}`, "tip-regime r-text-" + regime),
      );
      for (const ev of island.marks[asOf] || []) tip.append(line("● " + ev, "tip-event"));
      tip.hidden = false;
      const box = svg.getBoundingClientRect();
      const x = event.clientX - box.left;
      const width = tip.offsetWidth;
      tip.style.left = Math.max(0, Math.min(x - width / 2, box.width - width)) + "px";
      tip.dataset.asOf = asOf;
    }
    svg.addEventListener("pointermove", show);
    svg.addEventListener("pointerdown", show);
    svg.addEventListener("pointerleave", (e) => { if (e.pointerType === "mouse") tip.hidden = true; });
  }

  function shadePeriods(periods, color) {
    // A uPlot hook: fill the firing periods behind the lines.
    return (u) => {
      const ctx = u.ctx;
      ctx.save();
      ctx.fillStyle = color;
      const top = u.bbox.top, height = u.bbox.height;
      const last = u.data[0][u.data[0].length - 1];
      for (const [start, end] of periods) {
        const a = u.valToPos(Date.parse(start) / 1000, "x", true);
        const b = u.valToPos(end ? Date.parse(end) / 1000 : last, "x", true);
        const left = Math.max(a, u.bbox.left), right = Math.min(b, u.bbox.left + u.bbox.width);
        if (right > left) ctx.fillRect(left, top, Math.max(right - left, 1), height);
      }
      ctx.restore();
    };
  }

  function markEvents(dates, color) {
    // A uPlot hook: a one-off milestone's events as points on the line, each with a thin
    // tick down the plot; an event is a moment, never a band that runs to today.
    return (u) => {
      const ctx = u.ctx, xs = u.data[0], ys = u.data[1];
      const top = u.bbox.top, bottom = u.bbox.top + u.bbox.height;
      ctx.save();
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.lineWidth = 1;
      for (const day of dates) {
        const at = Date.parse(day) / 1000;
        let i = xs.findIndex((x) => x >= at);
        if (i < 0) i = xs.length - 1;
        const x = u.valToPos(at, "x", true);
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
        ctx.globalAlpha = 0.35;
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
        ctx.globalAlpha = 1;
        const y = Number.isFinite(ys[i]) ? u.valToPos(ys[i], "y", true) : bottom - 6;
        ctx.beginPath(); ctx.arc(x, Math.min(Math.max(y, top), bottom), 4 * devicePixelRatio, 0, 2 * Math.PI);
        ctx.fill();
      }
      ctx.restore();
    };
  }

  function robustRange(values, threshold) {
    // The 1st to 99th percentile (and the threshold): one spike (2008, 2020) must not
    // flatten 36 years of a series into a line.
    const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
    if (!sorted.length) return [0, 1];
    let low = sorted[Math.floor(sorted.length * 0.01)];
    let high = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99))];
    if (threshold !== null) { low = Math.min(low, threshold); high = Math.max(high, threshold); }
    const pad = (high - low) * 0.08 || Math.abs(high) * 0.1 || 1;
    return [low - pad, high + pad];
  }

  function drawChart(el) {
    fetch(el.dataset.src, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then((c) => {
        if (!c.dates.length) { el.textContent = "—"; return; }
        const xs = c.dates.map((d) => Date.parse(d) / 1000);
        const data = [xs, c.values];
        const series = [{}, { label: c.kind === "value" ? (c.unit || t.value) : "1 = on",
          stroke: "#2563eb", width: 1.4, points: { show: false } }];
        if (c.threshold !== null) {
          data.push(xs.map(() => c.threshold));
          series.push({ label: t.threshold, stroke: "#dc2626", dash: [5, 4], width: 1,
            points: { show: false } });
        }
        const width = Math.max(el.clientWidth, 240);
        const yRange = robustRange(c.values, c.threshold);
        const opts = {
          width, height: 180, series, legend: { show: true, live: true },
          cursor: { drag: { x: true, y: false } },
          scales: { x: { time: true }, y: { range: () => yRange } },
          axes: [{ size: 30, font: "11px system-ui" }, { size: 48, font: "11px system-ui" }],
          hooks: { drawClear: [shadePeriods(c.periods, "rgba(249, 115, 22, 0.18)")],
            draw: [markEvents(c.events || [], "#c2410c")] },
        };
        el.replaceChildren();
        const plot = new uPlot(opts, data, el);
        el.dataset.bands = String(c.periods.length);  // what was drawn, for the browser test
        el.dataset.points = String((c.events || []).length);
        el.classList.add("drawn");
        new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 240), height: 180 }))
          .observe(el);
      })
      .catch(() => { el.textContent = "—"; el.classList.add("failed"); });
  }

  function setupCharts() {
    if (typeof uPlot === "undefined") return;  // the PNG fallback stays in the noscript
    // All at once: each chart's JSON is cached on the server and small.
    document.querySelectorAll(".chart[data-src]").forEach(drawChart);
  }

  setupTimeline();
  setupCharts();
})();
