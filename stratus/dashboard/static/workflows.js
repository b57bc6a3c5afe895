// The dashboard's Step Functions pages, behind the same login as the rest: the state machines
// of every region (#/workflows), one machine with its graph and executions
// (#/workflows/machine/<arn>), one execution with its path drawn on the graph and its history
// (#/workflows/execution/<arn>). Data from /_stratus/ui/api/state-machine(s) and /execution;
// every name goes into the page as text.
"use strict";

(() => {
  const POLL_MS = 2000; // a running execution's page follows it at this pace
  const { call, el, show, LoggedOut } = window.stratusApp;
  const Graph = window.stratusSfnGraph;
  const $ = (id) => document.getElementById(id);

  // What the pages fetched and drew, on `window` for tests (and the curious).
  const state = { route: null, generation: 0, loads: 0, machines: null, machine: null, execution: null };
  window.stratusWorkflows = state;
  let signedIn = false;

  // -- routes ---------------------------------------------------------------------------------

  function parseRoute(hash) {
    const parts = hash.replace(/^#\/?/, "").split("/");
    if (parts[0] !== "workflows") return null;
    if (parts[1] === "machine" && parts[2]) return { page: "machine", arn: decodeURIComponent(parts[2]) };
    if (parts[1] === "execution" && parts[2]) return { page: "execution", arn: decodeURIComponent(parts[2]) };
    return { page: "list" };
  }

  const machineHref = (arn) => `#/workflows/machine/${encodeURIComponent(arn)}`;
  const executionHref = (arn) => `#/workflows/execution/${encodeURIComponent(arn)}`;

  function route() {
    if (!signedIn) return;
    const found = parseRoute(window.location.hash);
    state.route = found;
    state.generation += 1;
    document.body.classList.toggle("route-workflows", Boolean(found));
    for (const link of document.querySelectorAll("#nav a")) {
      link.classList.toggle("active", (link.dataset.nav === "workflows") === Boolean(found));
    }
    show($("dashboard-view"), !found);
    show($("workflows-view"), Boolean(found));
    if (!found) return;
    for (const id of ["sfn-list", "sfn-machine", "sfn-execution"]) show($(id), id === `sfn-${found.page}`);
    show($("sfn-error"), false);
    follow(state.generation, found);
  }

  async function follow(generation, found) {
    while (signedIn && generation === state.generation) {
      let more = false;
      try {
        if (found.page === "list") await loadList();
        else if (found.page === "machine") more = await loadMachine(found.arn, generation);
        else more = await loadExecution(found.arn, generation);
        state.loads += 1;
        show($("sfn-error"), false);
      } catch (e) {
        if (e instanceof LoggedOut) return;
        $("sfn-error").textContent = e.message;
        show($("sfn-error"), true);
        return;
      }
      if (!more) return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  // -- formatting -----------------------------------------------------------------------------

  const when = (ms) => (ms === null || ms === undefined ? "–" : new Date(ms).toISOString().replace("T", " ").slice(0, 19));

  function duration(ms) {
    if (ms === null || ms === undefined) return "–";
    if (ms < 1000) return `${ms} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
    return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
  }

  const statusBadge = (status) => el("span", { className: `badge sfn-status ${status.toLowerCase()}` }, status);

  // -- the list ------------------------------------------------------------------------------

  async function loadList() {
    const data = await call("state-machines");
    state.machines = data.stateMachines;
    const byRegion = new Map();
    for (const m of data.stateMachines) {
      if (!byRegion.has(m.region)) byRegion.set(m.region, []);
      byRegion.get(m.region).push(m);
    }
    const section = ([region, machines]) => {
      const rows = machines.map((m) => el("tr", { "data-machine": m.arn },
        el("td", {}, el("a", { href: machineHref(m.arn), className: "sfn-link" }, m.name)),
        el("td", {}, m.type),
        el("td", { className: "muted" }, when(m.createdMs))));
      const head = el("tr", {}, el("th", {}, "Name"), el("th", {}, "Type"), el("th", {}, "Created"));
      const table = el("table", { className: "table" }, el("thead", {}, head), el("tbody", {}, ...rows));
      return el("div", { className: "sfn-region", "data-region": region },
        el("h3", {}, region), el("div", { className: "table-wrap" }, table));
    };
    $("sfn-regions").replaceChildren(...[...byRegion].map(section));
    show($("sfn-empty"), data.stateMachines.length === 0);
  }

  // -- one state machine -----------------------------------------------------------------------

  function graphInto(container, graph, path) {
    const fingerprint = JSON.stringify([graph, path]);
    if (container.dataset.fingerprint === fingerprint) return; // unchanged: keep what is drawn
    container.replaceChildren(Graph.draw(graph, path));
    container.dataset.fingerprint = fingerprint;
  }

  async function loadMachine(arn, generation) {
    const data = await call(`state-machine?arn=${encodeURIComponent(arn)}`);
    if (generation !== state.generation) return false;
    state.machine = data;
    const m = data.stateMachine;
    $("sfn-machine-name").textContent = m.name;
    $("sfn-machine-meta").textContent = `${m.type} · ${m.region} · created ${when(m.createdMs)} · ${m.arn}`;
    graphInto($("sfn-machine-graph"), data.graph, null);
    $("sfn-executions").tBodies[0].replaceChildren(...data.executions.map((x) => el("tr", { "data-execution": x.arn },
      el("td", {}, el("a", { href: executionHref(x.arn), className: "sfn-link" }, x.name)),
      el("td", {}, statusBadge(x.status)),
      el("td", { className: "muted" }, when(x.startMs)),
      el("td", { className: "muted" }, when(x.stopMs)),
      el("td", { className: "num" }, duration(x.durationMs)))));
    $("sfn-executions-empty").textContent = data.executionsRecorded
      ? "No executions yet."
      : "Express executions are not recorded (as on AWS): their history is not kept.";
    show($("sfn-executions-empty"), data.executions.length === 0);
    return data.executions.some((x) => x.status === "RUNNING");
  }

  // -- one execution ---------------------------------------------------------------------------

  async function loadExecution(arn, generation) {
    const data = await call(`execution?arn=${encodeURIComponent(arn)}`);
    if (generation !== state.generation) return false;
    state.execution = data;
    const x = data.execution;
    $("sfn-execution-machine").href = machineHref(data.stateMachine.arn);
    $("sfn-execution-machine").textContent = data.stateMachine.name;
    $("sfn-execution-name").replaceChildren(el("span", {}, x.name), statusBadge(x.status));
    $("sfn-execution-meta").textContent =
      `started ${when(x.startMs)} · stopped ${when(x.stopMs)} · ${duration(x.durationMs)} · ${x.arn}`;
    $("sfn-execution-error").textContent = x.error ? `${x.error}${x.cause ? `: ${x.cause}` : ""}` : "";
    show($("sfn-execution-error"), Boolean(x.error));
    graphInto($("sfn-execution-graph"), data.graph, data.path);
    const start = data.history.length ? data.history[0].timestampMs : 0;
    $("sfn-history").tBodies[0].replaceChildren(...data.history.map((e) => el("tr", { "data-event": e.id },
      el("td", { className: "num" }, e.id),
      el("td", { className: `sfn-event ${/Failed|TimedOut|Aborted/.test(e.type) ? "bad" : ""}` }, e.type),
      el("td", {}, e.state || ""),
      el("td", { className: "num muted" }, `${((e.timestampMs - start) / 1000).toFixed(3)} s`),
      el("td", { className: "mono sfn-detail" }, e.detail))));
    $("sfn-history-more").textContent = data.historyTotal > data.history.length
      ? `The first ${data.history.length} of ${data.historyTotal} events.` : "";
    return x.status === "RUNNING";
  }

  // -- signing in and out (app.js says when) -------------------------------------------------

  window.addEventListener("stratus:session", (event) => {
    signedIn = Boolean(event.detail);
    show($("nav"), signedIn);
    if (signedIn) route();
    else {
      state.generation += 1;
      show($("workflows-view"), false);
    }
  });
  window.addEventListener("hashchange", route);
  if (window.stratusDashboard && window.stratusDashboard.running) {
    signedIn = true;
    show($("nav"), true);
    route();
  }
})();
