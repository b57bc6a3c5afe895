// Recent invocations (recorded by the server for replay) and their Replay buttons. Everything
// from data goes into the page as text, through app.js's `el`, never as markup.
"use strict";

(() => {
  const REFRESH_MS = 5000;
  const { call, el, show, LoggedOut } = window.stratusApp;
  const $ = (id) => document.getElementById(id);
  // On `window` so that tests can read what was fetched and replayed.
  const state = { loaded: 0, replays: 0, open: false, generation: 0, invocations: [], last: null };
  window.stratusReplays = state;

  function selected() {
    return (window.stratusDashboard && window.stratusDashboard.function) || "";
  }

  function fmtTime(ms) {
    return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
  }

  function errorText(type, message) {
    if (!type && !message) return "";
    return message ? `${type || "Error"}: ${message}` : type;
  }

  async function load() {
    const name = selected();
    const data = await call(`invocations?${new URLSearchParams(name ? { function: name } : {})}`);
    state.invocations = data.invocations;
    state.loaded += 1;
    $("recordings-scope").textContent = name ? `of ${name}` : "of every function";
    $("recordings-table").tBodies[0].replaceChildren(...data.invocations.map((r) => el("tr", { "data-request-id": r.requestId },
      el("td", { className: "muted" }, fmtTime(r.time)),
      el("td", {}, r.function + (r.qualifier ? `:${r.qualifier}` : "")),
      el("td", { className: "mono" }, r.requestId),
      el("td", {}, el("span", { className: `badge ${r.status === "Failed" ? "bad" : "good"}` }, r.status)),
      el("td", { className: "num" }, `${r.durationMs.toFixed(2)} ms`),
      el("td", {}, errorText(r.errorType, r.errorMessage)),
      el("td", { className: "muted" }, r.payloadRecorded ? `${r.payloadBytes} bytes` : r.note),
      el("td", {}, r.payloadRecorded
        ? el("button", { type: "button", className: "small replay", onclick: () => replay(r.requestId) }, "Replay")
        : ""),
    )));
    show($("recordings-empty"), data.invocations.length === 0);
  }

  async function replay(requestId) {
    show($("replay-error"), false);
    try {
      const answer = await call("replay", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Stratus-Dashboard": "1" },
        body: JSON.stringify({ requestId }),
      });
      state.replays += 1;
      state.last = answer;
      render(requestId, answer);
      load().catch(() => {});
    } catch (e) {
      if (e instanceof LoggedOut) return;
      show($("replay-result"), false);
      $("replay-error").textContent = e.message;
      show($("replay-error"), true);
    }
  }

  function render(requestId, answer) {
    const old = answer.recorded;
    const now = answer.replay;
    const status = (side) => el("span", { className: `badge ${side.functionError ? "bad" : "good"}` },
      side.functionError ? `function error: ${side.functionError}` : "succeeded");
    const rows = [
      ["Request id", old.requestId, now.requestId],
      ["Version", old.version, now.version],
      ["Status", status(old), status(now)],
      ["Duration", `${old.durationMs.toFixed(2)} ms`, `${now.tookMs} ms (round trip)`],
      ["Result", el("pre", { className: "code" }, old.note || old.payload), el("pre", { className: "code" }, now.payload)],
    ];
    $("replay-of").textContent = `${answer.function} · ${requestId}`;
    $("replay-table").tBodies[0].replaceChildren(...rows.map(([label, a, b]) => el("tr", {},
      el("th", {}, label), el("td", { className: "replay-recorded" }, a), el("td", { className: "replay-new" }, b))));
    show($("replay-result"), true);
  }

  async function loop(generation) {
    while (state.open && generation === state.generation) {
      try {
        await load();
      } catch (e) {
        if (e instanceof LoggedOut) return;
      }
      await new Promise((resolve) => setTimeout(resolve, REFRESH_MS));
    }
  }

  window.addEventListener("stratus:session", (event) => {
    state.open = Boolean(event.detail);
    state.generation += 1;
    if (state.open) loop(state.generation);
  });
  $("function-filter").addEventListener("change", () => { load().catch(() => {}); });
})();
