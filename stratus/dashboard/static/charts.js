// The dashboard's charts, drawn with uPlot, and the number formats the whole page shares.
// Loaded before app.js; what it offers is on window.stratusFormat and window.stratusCharts.
"use strict";

(() => {
  const COLORS = {
    blue: "#5b9cff", red: "#ff6b6b", amber: "#ffb547", green: "#3ddc97",
    violet: "#b18cff", teal: "#4dd4e6", grey: "#8a94a6",
  };
  const AXIS = "#8a94a6";
  const HEIGHT = 230;
  const GRID = "rgba(255,255,255,0.06)";

  // -- formats -----------------------------------------------------------------------------

  const counts = new Intl.NumberFormat();
  function fmtCount(n) { return n === null || n === undefined ? "–" : counts.format(n); }
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return "–";
    if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
    if (ms >= 100) return `${ms.toFixed(0)} ms`;
    if (ms >= 10) return `${ms.toFixed(1)} ms`;
    return `${ms.toFixed(2)} ms`;
  }
  function fmtCost(dollars) {
    if (!dollars) return "$0";
    if (dollars >= 0.01) return `$${dollars.toFixed(2)}`;
    // Three significant digits, never in exponent form: $0.00000465.
    return `$${dollars.toFixed(Math.min(12, 2 - Math.floor(Math.log10(dollars))))}`;
  }
  function fmtClock(ts) {
    const d = new Date(ts);
    const pad = (n, w) => String(n).padStart(w || 2, "0");
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  window.stratusFormat = { fmtCount, fmtMs, fmtCost, fmtClock };

  // -- charts ------------------------------------------------------------------------------

  const COUNT_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 1e5, 1e6];
  const CHARTS = [
    { id: "chart-invocations", counts: true, series: [
      { key: "invocations", label: "Invocations", color: COLORS.blue, bars: true },
      { key: "errors", label: "Errors", color: COLORS.red, bars: true },
      { key: "throttles", label: "Throttles", color: COLORS.amber },
    ] },
    { id: "chart-duration", ms: true, series: [
      { key: "p50", label: "p50", color: COLORS.green, gaps: true },
      { key: "p90", label: "p90", color: COLORS.amber, gaps: true },
      { key: "p99", label: "p99", color: COLORS.red, gaps: true },
      { key: "max", label: "max", color: COLORS.grey, gaps: true, dash: [4, 4] },
    ] },
    { id: "chart-concurrency", counts: true, series: [
      { key: "concurrency", label: "Peak concurrent executions", color: COLORS.violet, fill: true, stepped: true },
    ] },
    { id: "chart-cold", counts: true, series: [
      { key: "coldStarts", label: "Cold starts", color: COLORS.teal, bars: true },
      { key: "initAvg", label: "Init duration (avg)", color: COLORS.amber, gaps: true, scale: "ms" },
    ] },
  ];

  function translucent(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
  }

  function seriesOptions(spec, s) {
    const paths = window.uPlot.paths || {};
    const options = {
      label: s.label,
      stroke: s.color,
      width: s.bars ? 1 : 2,
      scale: s.scale || "y",
      spanGaps: Boolean(s.gaps),
      dash: s.dash,
      points: { show: Boolean(s.gaps), size: 5, fill: s.color },
      value: (u, v) => (v === null || v === undefined ? "–" : (s.scale === "ms" || spec.ms ? fmtMs(v) : fmtCount(v))),
    };
    if (s.bars) {
      options.fill = translucent(s.color, 0.55);
      if (paths.bars) options.paths = paths.bars({ size: [0.7, 28] });
    } else if (s.fill) {
      options.fill = translucent(s.color, 0.18);
    }
    if (s.stepped && paths.stepped) options.paths = paths.stepped({ align: 1 });
    return options;
  }

  function axis(extra) {
    return { stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 }, ...extra };
  }

  function chartOptions(spec, width) {
    const fromZero = (u, min, max) => [0, max > 0 ? max * 1.12 : 1];
    const scales = { x: { time: true }, y: { range: fromZero }, ms: { range: fromZero } };
    const yAxis = spec.ms
      ? axis({ size: 64, values: (u, vals) => vals.map(fmtMs) })
      : axis({ size: 52, incrs: COUNT_INCRS, values: (u, vals) => vals.map(fmtCount) });
    const axes = [axis({}), yAxis];
    if (spec.series.some((s) => s.scale === "ms")) {
      axes.push(axis({ scale: "ms", side: 1, size: 64, grid: { show: false }, values: (u, vals) => vals.map(fmtMs) }));
    }
    return {
      width,
      height: HEIGHT,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales,
      axes,
      series: [{ value: (u, v) => (v ? new Date(v * 1000).toLocaleTimeString() : "") },
        ...spec.series.map((s) => seriesOptions(spec, s))],
    };
  }

  function chartData(spec, metrics) {
    return [metrics.t, ...spec.series.map((s) => metrics[s.key])];
  }

  // Draws each chart, empty, into its holder; returns {holder id: uPlot}. Charts follow their
  // holder's width.
  function makeCharts() {
    const charts = {};
    for (const spec of CHARTS) {
      const holder = document.getElementById(spec.id);
      const empty = [[], ...spec.series.map(() => [])];
      const chart = new window.uPlot(chartOptions(spec, Math.max(holder.clientWidth, 280)), empty, holder);
      charts[spec.id] = chart;
      new ResizeObserver(() => {
        chart.setSize({ width: Math.max(holder.clientWidth, 280), height: HEIGHT });
      }).observe(holder);
    }
    return charts;
  }

  function renderCharts(charts, metrics) {
    for (const spec of CHARTS) {
      const chart = charts[spec.id];
      if (chart) chart.setData(chartData(spec, metrics));
    }
  }

  window.stratusCharts = {
    available: () => typeof window.uPlot === "function",
    make: makeCharts,
    render: renderCharts,
  };
})();
