// A Step Functions state machine drawn as SVG: plain JavaScript, no build step, no library.
// `layout` places a graph (as the server's /state-machine and /execution answers give it) in
// layers from StartAt down; `draw` makes the SVG, with an execution's path when one is given.
// Every name and label goes in as text (textContent), never as markup.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const NODE_H = 46;
  const MIN_W = 120;
  const MAX_W = 250;
  const CHAR_W = 7.1; // an estimate of the name font's average advance, so layout needs no DOM
  const GAP_X = 34;
  const GAP_Y = 58;
  const PAD = 16;
  const HEAD = 28; // a group's title bar
  const LANE = 16; // room per back edge on a scope's right
  const LABEL_CHARS = 30;
  const NAME_CHARS = Math.floor((MAX_W - 24) / CHAR_W);
  let drawn = 0; // numbers each SVG's marker ids, so two graphs on a page do not share them

  const shorten = (text, most) => (text.length > most ? `${text.slice(0, most - 1)}…` : text);
  const labelled = (edge) => Boolean(edge.label) && edge.kind !== "next";
  const labelWidth = (label) => Math.min(LABEL_CHARS, label.length) * 6.2 + 10;
  const key = (name) => `s:${name}`;

  // -- layout -----------------------------------------------------------------------------

  function sizeOf(state) {
    const title = Math.min(NAME_CHARS, state.name.length) * CHAR_W;
    if (state.type === "Parallel" || state.type === "Map") {
      const inner = state.type === "Map" ? [state.processor] : state.branches;
      const scopes = inner.filter(Boolean).map((g) => layoutScope(g, false));
      const w = scopes.reduce((sum, s) => sum + s.width, 0) + GAP_X * Math.max(0, scopes.length - 1);
      const h = scopes.reduce((most, s) => Math.max(most, s.height), 0);
      return { w: Math.max(w + 2 * PAD, title + 110), h: h + HEAD + PAD, scopes };
    }
    return { w: Math.max(MIN_W, Math.min(MAX_W, title + 28)), h: NODE_H, scopes: [] };
  }

  // Nodes (states, and Start/End at the top level) with their edges, ranked by longest path
  // from the start over forward edges; edges back to a state being walked are back edges.
  function layoutScope(graph, top) {
    const nodes = new Map();
    for (const state of graph.states) {
      nodes.set(key(state.name), { id: key(state.name), state, ...sizeOf(state) });
    }
    const edges = [];
    for (const state of graph.states) {
      for (const edge of state.edges) {
        if (nodes.has(key(edge.to))) edges.push({ ...edge, from: key(state.name), to: key(edge.to) });
      }
    }
    let first = key(graph.startAt);
    if (top) {
      nodes.set("^start", { id: "^start", pseudo: "Start", w: 64, h: 26, scopes: [] });
      nodes.set("^end", { id: "^end", pseudo: "End", w: 64, h: 26, scopes: [] });
      edges.unshift({ from: "^start", to: first, kind: "next", label: "" });
      for (const state of graph.states) {
        if (state.end) edges.push({ from: key(state.name), to: "^end", kind: "end", label: "" });
      }
      first = "^start";
    }
    const out = new Map([...nodes.keys()].map((id) => [id, []]));
    for (const edge of edges) out.get(edge.from).push(edge);
    // A node's slot is wide enough for the labels of the edges into it, which sit just above
    // it: labels into different nodes then never overlap.
    for (const node of nodes.values()) node.slot = node.w;
    for (const edge of edges) {
      if (!labelled(edge)) continue;
      const target = nodes.get(edge.to);
      edge.stack = target.labels = (target.labels || 0) + 1;
      target.slot = Math.max(target.slot, labelWidth(edge.label) + 8);
    }

    // Depth-first from the start: discovery order, back edges, and a topological order.
    const seen = new Map(); // id -> discovery index
    const onStack = new Set();
    const finished = [];
    const visit = (id) => {
      seen.set(id, seen.size);
      onStack.add(id);
      for (const edge of out.get(id)) {
        if (onStack.has(edge.to)) edge.back = true;
        else if (!seen.has(edge.to)) visit(edge.to);
      }
      onStack.delete(id);
      finished.push(id);
    };
    visit(first);
    for (const id of nodes.keys()) if (!seen.has(id)) visit(id); // nothing unreachable validates, but draw it anyway
    const rank = new Map([...nodes.keys()].map((id) => [id, 0]));
    for (const id of finished.reverse()) {
      for (const edge of out.get(id)) {
        if (!edge.back) rank.set(edge.to, Math.max(rank.get(edge.to), rank.get(id) + 1));
      }
    }
    if (top) rank.set("^end", Math.max(...[...rank].filter(([id]) => id !== "^end").map(([, r]) => r)) + 1);

    // Layers, each ordered by its nodes' predecessors (barycenters) to keep edges short.
    const layers = [];
    for (const [id, r] of rank) (layers[r] = layers[r] || []).push(id);
    const preds = new Map([...nodes.keys()].map((id) => [id, []]));
    for (const edge of edges) if (!edge.back) preds.get(edge.to).push(edge.from);
    const order = new Map();
    for (const layer of layers.filter(Boolean)) {
      layer.sort((a, b) => {
        const bary = (id) => {
          const ps = preds.get(id).filter((p) => order.has(p));
          return ps.length ? ps.reduce((s, p) => s + order.get(p), 0) / ps.length : seen.get(id);
        };
        return bary(a) - bary(b) || seen.get(a) - seen.get(b);
      });
      layer.forEach((id, i) => order.set(id, i));
    }

    // Coordinates: each layer's nodes as near their predecessors' centres as they fit.
    let y = 0;
    for (const layer of layers.filter(Boolean)) {
      const height = Math.max(...layer.map((id) => nodes.get(id).h));
      const want = layer.map((id) => {
        const ps = preds.get(id).filter((p) => nodes.get(p).x !== undefined);
        return ps.length ? ps.reduce((s, p) => s + nodes.get(p).x + nodes.get(p).w / 2, 0) / ps.length : 0;
      });
      let right = -Infinity;
      const placed = layer.map((id, i) => {
        const node = nodes.get(id);
        const left = Math.max(want[i] - node.slot / 2, right + GAP_X);
        right = left + node.slot;
        return left + (node.slot - node.w) / 2;
      });
      const drift = placed.reduce((s, left, i) => s + left + nodes.get(layer[i]).w / 2 - want[i], 0) / layer.length;
      layer.forEach((id, i) => {
        const node = nodes.get(id);
        node.x = placed[i] - drift;
        node.y = y + (height - node.h) / 2;
        node.rank = rank.get(id);
      });
      y += height + GAP_Y;
    }
    const all = [...nodes.values()];
    const minX = Math.min(...all.map((n) => n.x - (n.slot - n.w) / 2));
    for (const node of all) node.x += PAD - minX;
    const maxRight = Math.max(...all.map((n) => n.x + (n.w + n.slot) / 2));
    let lanes = 0;
    for (const edge of edges) {
      const a = nodes.get(edge.from);
      const b = nodes.get(edge.to);
      edge.around = edge.back || a.rank >= b.rank;
      if (edge.around) edge.lane = maxRight + LANE * ++lanes;
    }
    return { nodes, edges, width: maxRight + PAD + LANE * lanes, height: y - GAP_Y + 2 * PAD, top };
  }

  function layout(graph) {
    return layoutScope(graph, true);
  }

  // -- drawing ----------------------------------------------------------------------------

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== undefined && value !== null) node.setAttribute(name, String(value));
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function statusOf(path, name) {
    if (!path) return null;
    const run = path.states[name];
    return run ? run.status : "not-reached";
  }

  function tooltip(state, run) {
    const lines = [state.name, state.type];
    if (state.comment) lines.push(state.comment);
    if (run) {
      lines.push(`${run.status}: entered ${run.entered}, succeeded ${run.succeeded}, failed ${run.failed}`);
    }
    return lines.join("\n");
  }

  function edgeGeometry(edge, scope) {
    const a = scope.nodes.get(edge.from);
    const b = scope.nodes.get(edge.to);
    if (edge.around) {
      const ay = a.y + a.h / 2 + PAD;
      const by = b.y + b.h / 2 + PAD;
      const d = `M ${a.x + a.w} ${ay} L ${edge.lane} ${ay} L ${edge.lane} ${by} L ${b.x + b.w + 2} ${by}`;
      return { d, lx: edge.lane, ly: (ay + by) / 2 };
    }
    const sx = a.x + a.w / 2;
    const sy = a.y + a.h + PAD;
    const tx = b.x + b.w / 2;
    const ty = b.y + PAD - 2;
    const bend = Math.max(20, (ty - sy) / 2);
    const d = `M ${sx} ${sy} C ${sx} ${sy + bend}, ${tx} ${ty - bend}, ${tx} ${ty}`;
    // A label sits just above the state its edge enters (where the edge runs straight down),
    // stacked when several labelled edges enter one state.
    return { d, lx: tx, ly: ty - 16 - 21 * ((edge.stack || 1) - 1) };
  }

  function taken(edge, scope, path) {
    if (!path) return false;
    const a = scope.nodes.get(edge.from);
    const b = scope.nodes.get(edge.to);
    if (a.pseudo === "Start") return Boolean(path.states[b.state.name]);
    if (b.pseudo === "End") return statusOf(path, a.state.name) === "succeeded";
    return path.taken.has(`${a.state.name}\u0000${b.state.name}`);
  }

  function drawScope(parent, scope, path, ids) {
    const edgeLayer = svg("g", { class: "sfn-edges" });
    const labelLayer = svg("g", { class: "sfn-labels" });
    const nodeLayer = svg("g", { class: "sfn-nodes" });
    parent.append(edgeLayer, nodeLayer, labelLayer);
    for (const edge of scope.edges) {
      const { d, lx, ly } = edgeGeometry(edge, scope);
      const on = taken(edge, scope, path);
      const a = scope.nodes.get(edge.from);
      const b = scope.nodes.get(edge.to);
      const line = svg("path", {
        d,
        class: `sfn-edge kind-${edge.kind}${on ? " taken" : ""}`,
        "marker-end": `url(#${on ? ids.taken : ids.arrow})`,
        "data-from": a.state ? a.state.name : a.pseudo,
        "data-to": b.state ? b.state.name : b.pseudo,
      });
      edgeLayer.append(line);
      if (labelled(edge)) {
        const text = shorten(edge.label, LABEL_CHARS);
        const label = svg("g", { class: `sfn-edge-label kind-${edge.kind}${on ? " taken" : ""}` });
        const width = labelWidth(edge.label);
        label.append(
          svg("rect", { x: lx - width / 2, y: ly - 9, width, height: 18, rx: 4 }),
          svg("text", { x: lx, y: ly + 4, "text-anchor": "middle" }, text),
          svg("title", {}, edge.label),
        );
        labelLayer.append(label);
      }
    }
    for (const node of scope.nodes.values()) {
      const x = node.x;
      const y = node.y + PAD;
      if (node.pseudo) {
        const g = svg("g", { class: `sfn-terminal sfn-${node.pseudo.toLowerCase()}`, transform: `translate(${x} ${y})` });
        g.append(
          svg("rect", { width: node.w, height: node.h, rx: node.h / 2 }),
          svg("text", { x: node.w / 2, y: node.h / 2 + 4, "text-anchor": "middle" }, node.pseudo),
        );
        nodeLayer.append(g);
        continue;
      }
      const state = node.state;
      const status = statusOf(path, state.name);
      const run = path ? path.states[state.name] : null;
      const classes = ["sfn-state", `type-${state.type}`];
      if (node.scopes.length) classes.push("sfn-group");
      if (status) classes.push(`status-${status}`);
      if (run) classes.push("highlighted");
      const g = svg("g", { class: classes.join(" "), transform: `translate(${x} ${y})` });
      g.dataset.state = state.name;
      if (status) g.dataset.status = status;
      g.append(svg("title", {}, tooltip(state, run)));
      if (node.scopes.length) {
        g.append(svg("rect", { class: "sfn-box", width: node.w, height: node.h, rx: 10 }));
        g.append(svg("text", { class: "sfn-name", x: 12, y: 18 }, shorten(state.name, NAME_CHARS)));
        const kind = state.type === "Map" ? "Map · item processor" : `Parallel · ${node.scopes.length} branches`;
        g.append(svg("text", { class: "sfn-type", x: node.w - 12, y: 18, "text-anchor": "end" }, kind));
        let ix = PAD;
        for (const inner of node.scopes) {
          const frame = svg("g", { class: "sfn-scope", transform: `translate(${ix} ${HEAD})` });
          frame.append(svg("rect", { class: "sfn-scope-frame", width: inner.width, height: inner.height, rx: 8 }));
          drawScope(frame, inner, path, ids);
          g.append(frame);
          ix += inner.width + GAP_X;
        }
      } else {
        g.append(svg("rect", { class: "sfn-box", width: node.w, height: node.h, rx: 8 }));
        g.append(svg("text", { class: "sfn-name", x: node.w / 2, y: 20, "text-anchor": "middle" }, shorten(state.name, NAME_CHARS)));
        const count = run && run.entered > 1 ? ` ×${run.entered}` : "";
        g.append(svg("text", { class: "sfn-type", x: node.w / 2, y: 36, "text-anchor": "middle" }, state.type + count));
      }
      nodeLayer.append(g);
    }
  }

  // The graph as an <svg> element; `path` ({states: {name: {status, ...}}, transitions}) marks
  // what an execution did: entered states get `highlighted` and `status-<status>`, the others
  // `status-not-reached`, and transitions it took `taken`.
  function draw(graph, path) {
    const scope = layout(graph);
    drawn += 1;
    const ids = { arrow: `sfn-arrow-${drawn}`, taken: `sfn-arrow-taken-${drawn}` };
    const marked = path ? { ...path, taken: new Set(path.transitions.map(([a, b]) => `${a}\u0000${b}`)) } : null;
    const width = Math.ceil(scope.width);
    const height = Math.ceil(scope.height);
    const root = svg("svg", { class: "sfn-graph", width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
    const defs = svg("defs");
    for (const [id, cls] of [[ids.arrow, "sfn-arrow"], [ids.taken, "sfn-arrow taken"]]) {
      const marker = svg("marker", {
        id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse",
      });
      marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: cls }));
      defs.append(marker);
    }
    root.append(defs);
    drawScope(root, scope, marked, ids);
    return root;
  }

  window.stratusSfnGraph = { layout, draw };
})();
