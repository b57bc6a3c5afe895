// The Stratus dashboard: plain JavaScript, no build step. Everything that comes from data is
// put into the page as text (textContent), never as markup.
"use strict";

(() => {
  const API = "/_stratus/ui/api/";
  const REFRESH_MS = 5000;
  const TAIL_MS = 1000;
  const TAIL_KEEP = 1000; // lines kept in the page
  const { fmtCount, fmtMs, fmtCost, fmtClock } = window.stratusFormat;
  const Charts = window.stratusCharts;

  // The page's state, on `window` so that tests (and the curious) can read what was fetched.
  const state = {
    function: "",
    window: "1h",
    running: false,
    generation: 0,
    refreshes: 0,
    functions: [],
    metrics: null,
    cost: null,
    charts: {},
    tail: { cursor: 0, polls: 0, paused: false, generation: 0, lines: 0 },
  };
  window.stratusDashboard = state;

  const $ = (id) => document.getElementById(id);

  // An element with text children only; attrs go through properties or setAttribute.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null) continue;
      if (key === "className" || key === "textContent" || key === "title") node[key] = value;
      else if (key === "onclick") node.addEventListener("click", value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function show(node, visible) { node.hidden = !visible; }

  // -- talking to the server -------------------------------------------------------------

  class LoggedOut extends Error {}
  // For the other pages' scripts (workflows.js): the same calls, the same escaping.
  window.stratusApp = { call, el, show, LoggedOut };
  const session = (open) => window.dispatchEvent(new CustomEvent("stratus:session", { detail: open }));

  async function call(path, options) {
    const response = await fetch(API + path, { credentials: "same-origin", ...options });
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    if (response.status === 401) {
      showLogin("Your session has ended; sign in again.");
      throw new LoggedOut();
    }
    if (!response.ok) {
      throw new Error((body && body.message) || `The server answered ${response.status}.`);
    }
    return body;
  }

  function send(path, method, data) {
    return call(path, {
      method,
      headers: { "Content-Type": "application/json", "X-Stratus-Dashboard": "1" },
      body: JSON.stringify(data),
    });
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) if (value !== "" && value !== null) q.set(key, value);
    return q.toString();
  }

  // -- login -----------------------------------------------------------------------------

  function showLogin(message) {
    state.running = false;
    state.generation += 1;
    state.tail.generation += 1;
    show($("dashboard-view"), false);
    show($("controls"), false);
    show($("login-view"), true);
    const error = $("login-error");
    error.textContent = message || "";
    show(error, Boolean(message));
    session(false);
  }

  async function logIn(credentials) {
    try {
      await send("session", "POST", credentials);
      $("secret-access-key").value = "";
      $("login-token").value = "";
      showDashboard();
    } catch (e) {
      if (!(e instanceof LoggedOut)) showLogin(e.message);
    }
  }

  function wireLogin() {
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      logIn({ accessKeyId: $("access-key-id").value.trim(), secretAccessKey: $("secret-access-key").value });
    });
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      logIn({ token: $("login-token").value.trim() });
    });
    $("logout").addEventListener("click", async () => {
      try { await send("session", "DELETE", {}); } catch (_) { /* signed out either way */ }
      showLogin("");
    });
  }

  // -- the dashboard ---------------------------------------------------------------------

  function showDashboard() {
    show($("login-view"), false);
    show($("dashboard-view"), true);
    show($("controls"), true);
    state.running = true;
    state.generation += 1;
    resetTail();
    if (!Charts.available()) show($("charts-missing"), true);
    else if (!Object.keys(state.charts).length) state.charts = Charts.make();
    refreshLoop(state.generation);
    tailLoop(state.tail.generation);
    session(true);
  }

  async function refreshLoop(generation) {
    while (state.running && generation === state.generation) {
      await refresh(generation);
      await new Promise((resolve) => setTimeout(resolve, REFRESH_MS));
    }
  }

  async function refresh(generation) {
    const params = query({ function: state.function, window: state.window });
    try {
      const [functions, metrics, cost] = await Promise.all([
        call("functions"), call(`metrics?${params}`), call(`cost?${params}`),
      ]);
      if (generation !== state.generation) return; // the filter changed meanwhile
      state.functions = functions.functions;
      state.metrics = metrics;
      state.cost = cost;
      renderFunctions();
      renderTiles();
      Charts.render(state.charts, metrics);
      renderCost();
      state.refreshes += 1;
      show($("load-error"), false);
      $("refresh-state").textContent = `Updated ${fmtClock(Date.now()).slice(0, 8)}`;
    } catch (e) {
      if (e instanceof LoggedOut) return;
      $("load-error").textContent = `Could not load the dashboard's data: ${e.message}`;
      show($("load-error"), true);
    }
  }

  function restart() {
    // A new filter or window: start the loops again so stale answers are dropped.
    state.generation += 1;
    resetTail();
    refreshLoop(state.generation);
    tailLoop(state.tail.generation);
  }

  function chooseFunction(name) {
    state.function = name;
    $("function-filter").value = name;
    if (name) $("invoke-function").value = name;
    restart();
  }

  function wireControls() {
    $("function-filter").addEventListener("change", (event) => chooseFunction(event.target.value));
    for (const button of $("window-picker").querySelectorAll("button")) {
      button.addEventListener("click", () => {
        for (const other of $("window-picker").querySelectorAll("button")) other.classList.remove("active");
        button.classList.add("active");
        state.window = button.dataset.window;
        state.generation += 1;
        refreshLoop(state.generation);
      });
    }
  }

  // -- functions -------------------------------------------------------------------------

  function fillSelect(select, names, first) {
    const current = select.value;
    select.replaceChildren();
    if (first) select.append(el("option", { value: "" }, first));
    for (const name of names) select.append(el("option", { value: name }, name));
    if (current && names.includes(current)) select.value = current;
  }

  function renderFunctions() {
    const names = state.functions.map((f) => f.name);
    const known = [...$("function-filter").options].map((o) => o.value).slice(1);
    if (known.join("\n") !== names.join("\n")) {
      fillSelect($("function-filter"), names, "All functions");
      fillSelect($("invoke-function"), names, null);
      if (state.function) $("function-filter").value = state.function;
    }
    const body = $("functions-table").tBodies[0];
    body.replaceChildren(...state.functions.map((f) => el("tr", { "data-function": f.name },
      el("td", {}, el("button", { className: "link", type: "button", onclick: () => chooseFunction(f.name) }, f.name)),
      el("td", {}, f.runtime),
      el("td", { className: "mono" }, f.handler),
      el("td", { className: "num" }, `${f.memoryMb} MB`),
      el("td", { className: "num" }, `${f.timeoutS} s`),
      el("td", { className: "num" }, fmtCount(f.warmEnvironments)),
      el("td", {}, f.versions.length ? f.versions.join(", ") : "–"),
      el("td", {}, f.aliases.length ? f.aliases.map((a) => `${a.name} → ${a.version}`).join(", ") : "–"),
      el("td", { className: "muted" }, f.lastModified.replace("T", " ").replace(/\.\d+\+0000$/, "")),
    )));
    show($("functions-empty"), state.functions.length === 0);
  }

  // -- tiles -----------------------------------------------------------------------------

  function tile(id, value, sub) {
    $(id).textContent = value;
    $(id).classList.toggle("long", value.length > 9);
    $(`${id}-sub`).textContent = sub || "";
  }

  function renderTiles() {
    const t = state.metrics.totals;
    const rate = t.invocations ? (100 * t.errors) / t.invocations : 0;
    tile("tile-invocations", fmtCount(t.invocations), `in the last ${state.window}`);
    tile("tile-errors", fmtCount(t.errors), t.invocations ? `${rate.toFixed(1)}% of invocations` : "");
    $("tile-errors").classList.toggle("bad", t.errors > 0);
    tile("tile-throttles", fmtCount(t.throttles), "refused by concurrency limits");
    $("tile-throttles").classList.toggle("warn", t.throttles > 0);
    tile("tile-cold", fmtCount(t.coldStarts), t.initAvg === null ? "" : `init ${fmtMs(t.initAvg)} on average`);
    tile("tile-p50", fmtMs(t.p50), t.avg === null ? "" : `average ${fmtMs(t.avg)}`);
    tile("tile-p99", fmtMs(t.p99), t.max === null ? "" : `p90 ${fmtMs(t.p90)} · max ${fmtMs(t.max)}`);
    tile("tile-concurrency", fmtCount(t.concurrency), "executions at once");
    const cost = state.cost ? state.cost.totalCost : 0;
    tile("tile-cost", fmtCost(cost), `${t.gbSeconds.toFixed(3)} GB-s · ${fmtCount(t.billedMs)} ms billed`);
  }

  // -- cost ------------------------------------------------------------------------------

  function renderCost() {
    const report = state.cost;
    const rows = report.rows.slice().sort((a, b) => b.cost - a.cost);
    const top = rows.length ? rows[0].cost : 0;
    $("cost-table").tBodies[0].replaceChildren(...rows.map((row) => {
      const bar = el("div", { className: "bar" });
      bar.style.width = `${top ? Math.max(2, (100 * row.cost) / top) : 0}%`;
      return el("tr", {},
        el("td", {}, row.function),
        el("td", { className: "num" }, fmtCount(row.requests)),
        el("td", { className: "num" }, row.gbSeconds.toFixed(3)),
        el("td", { className: "num" }, fmtCost(row.cost)),
        el("td", { className: "bar-col" }, bar));
    }));
    $("cost-total").textContent = fmtCost(report.totalCost);
    $("cost-window").textContent = `last ${state.window}`;
    $("cost-prices").textContent = `At $${report.prices.perMillionRequests} per million requests and `
      + `$${report.prices.perGbSecond} per GB-second.`;
  }

  // -- the live tail ---------------------------------------------------------------------

  function resetTail() {
    state.tail.generation += 1;
    state.tail.cursor = 0;
    state.tail.lines = 0;
    $("tail").replaceChildren();
  }

  async function tailLoop(generation) {
    while (state.running && generation === state.tail.generation) {
      if (!state.tail.paused) {
        try {
          const data = await call(`logs?${query({ function: state.function, after: state.tail.cursor || "" })}`);
          if (generation !== state.tail.generation) return;
          appendLines(data.events);
          state.tail.cursor = data.cursor;
          state.tail.polls += 1;
          $("tail-state").classList.remove("stale");
        } catch (e) {
          if (e instanceof LoggedOut) return;
          $("tail-state").classList.add("stale");
        }
      }
      await new Promise((resolve) => setTimeout(resolve, TAIL_MS));
    }
  }

  function lineKind(message) {
    if (/^(START|END) RequestId/.test(message)) return "meta";
    if (/^(REPORT|INIT_START) /.test(message)) return "report";
    if (/\[ERROR\]|Traceback|Error:|Task timed out/.test(message)) return "error";
    return "";
  }

  function appendLines(events) {
    if (!events.length) return;
    const box = $("tail");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    for (const event of events) {
      box.append(el("div", { className: `line ${lineKind(event.message)}` },
        el("span", { className: "ts" }, fmtClock(event.ts)),
        el("span", { className: "fn" }, event.function),
        el("span", { className: "msg" }, event.message)));
    }
    state.tail.lines += events.length;
    while (box.childElementCount > TAIL_KEEP) box.firstElementChild.remove();
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  function wireTail() {
    $("tail-pause").addEventListener("click", () => {
      state.tail.paused = !state.tail.paused;
      $("tail-pause").textContent = state.tail.paused ? "Resume" : "Pause";
      $("tail-state").textContent = state.tail.paused ? "paused" : "live";
      $("tail-state").classList.toggle("paused", state.tail.paused);
    });
    $("tail-clear").addEventListener("click", () => $("tail").replaceChildren());
  }

  // -- the invoke form -------------------------------------------------------------------

  function wireInvoke() {
    $("invoke-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = $("invoke-submit");
      button.disabled = true;
      button.textContent = "Invoking…";
      show($("invoke-error"), false);
      try {
        const result = await send("invoke", "POST", {
          function: $("invoke-function").value,
          payload: $("invoke-payload").value,
        });
        renderInvoke(result);
      } catch (e) {
        if (e instanceof LoggedOut) return;
        show($("invoke-result"), false);
        $("invoke-error").textContent = e.message;
        show($("invoke-error"), true);
      } finally {
        button.disabled = false;
        button.textContent = "Invoke";
      }
    });
  }

  function pretty(text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return text; }
  }

  function renderInvoke(result) {
    const status = $("invoke-status");
    status.textContent = result.functionError
      ? `${result.statusCode} · function error: ${result.functionError}`
      : `${result.statusCode} · succeeded`;
    status.className = `badge ${result.functionError ? "bad" : "good"}`;
    $("invoke-meta").textContent =
      `${result.tookMs} ms · version ${result.executedVersion} · request ${result.requestId}`;
    $("invoke-response").textContent = pretty(result.payload);
    $("invoke-log").textContent = result.log;
    show($("invoke-result"), true);
  }

  // -- start -----------------------------------------------------------------------------

  async function start() {
    wireLogin();
    wireControls();
    wireTail();
    wireInvoke();
    const params = new URLSearchParams(window.location.search);
    const fromLink = params.has("token");
    if (fromLink) window.history.replaceState(null, "", window.location.pathname);
    let session = { authenticated: false };
    try {
      session = await call("session");
    } catch (e) {
      showLogin(`The server cannot be reached: ${e.message}`);
      return;
    }
    if (session.authenticated) showDashboard();
    else showLogin(fromLink ? "That link's token is not this server's: it changes each time the server starts." : "");
  }

  start();
})();
