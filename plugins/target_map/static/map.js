// 金融生态图 (ECharts, no force layout): the outlet in the centre, the four modules as sectors around it, one
// point per customer placed by a sunflower fill of its module's sector (largest first, nearest the centre).
// Size: deposits (stock) or expected scale (target); colour: stock blue, targets by 保抢挖.
// Customers are scatter series (one per colour, so the legend hides a kind), the outlet and the module hubs a small
// graph series on the same axes: ECharts draws 5,000 scatter points about five times faster than 5,000 graph nodes.
// Data: [data-tm-map] data-url → {modules, tags, people, nodes: [[entry, customer, name, module, perspective, tag,
// owner, value, flags]]} (services_map.map_data). This file may run once per boosted page load: listeners are
// registered once, each chart is set up once.
(function () {
  "use strict";

  var COLORS = { outlet: "#1d3a5f", module: "#5a6b82", kinds: ["#206bc4", "#2fb344", "#f76707", "#d63939", "#ae3ec9"] };
  var GOLDEN = 0.6180339887498949;
  var GAP = 0.16; // radians left empty between two sectors

  function esc(text) {
    return window.echarts && echarts.format ? echarts.format.encodeHTML(String(text)) : String(text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  function wan(v, T) {
    // v: whole yuan. 万元 with two decimals, rounded half up (四舍五入) on the integer fen-of-万.
    var x = Math.round(v / 100) / 100;
    return x.toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + " " + T.wan;
  }

  // Kind of a customer point: 0 stock, 1/2/3 target 保/抢/挖, 4 target without a tag.
  function kind(node) {
    if (node[4] === 0) return 0;
    return node[5] >= 0 ? 1 + node[5] : 4;
  }

  // Positions: each customer takes an area of its own size (plus a margin) in its module's sector, filled as a
  // sunflower (golden-ratio angles, radius growing with the area used). The inner radius is chosen so that, once the
  // axes fit the whole to the box, the outlet and the module hubs keep HUB_RING pixels free around the centre; the
  // points are drawn smaller by the same factor when the map does not fit the box at full size.
  var HUB_RING = 125; // pixels from the centre to the first customers
  var HUB_AT = 82; // pixels from the centre to a module hub

  function layout(data, T, box) {
    var groups = data.modules.map(function (name) { return { name: name, nodes: [], area: 0 }; });
    var loose = { name: T.nomodule, nodes: [], area: 0 };
    data.nodes.forEach(function (n, i) {
      (n[3] >= 0 && n[3] < groups.length ? groups[n[3]] : loose).nodes.push(i);
    });
    if (loose.nodes.length) groups.push(loose);
    var count = data.nodes.length;
    var values = data.nodes.map(function (n) { return n[7]; }).sort(function (a, b) { return a - b; });
    var ref = values.length ? Math.max(values[Math.floor((values.length - 1) * 0.95)], 1) : 1;
    var maxSize = count > 1500 ? 16 : count > 400 ? 26 : 40;
    var minSize = count > 1500 ? 4 : 8;
    var sizes = data.nodes.map(function (n) {
      return minSize + (maxSize - minSize) * Math.min(1, Math.sqrt(Math.max(n[7], 0) / ref));
    });
    groups.forEach(function (g) {
      g.nodes.forEach(function (i) { g.area += (sizes[i] + 3) * (sizes[i] + 3); });
    });
    var sector = 2 * Math.PI / groups.length;
    var span = sector - GAP;
    var H = Math.max(Math.min(box.width, box.height), 2 * HUB_RING + 120);
    var most = Math.max.apply(null, groups.map(function (g) { return g.area; }).concat([1]));
    // reach² = R0² + 2·area/span with R0 = reach · 2·HUB_RING / H  →  solve for reach.
    var share = 2 * HUB_RING / H;
    var reach = Math.max(Math.sqrt(2 * most / span / (1 - share * share)), HUB_RING + 40);
    var r0 = reach * share;
    var points = [];
    var hubs = [];
    var outer = r0;
    groups.forEach(function (g, gi) {
      var mid = -Math.PI / 2 + (gi + 0.5) * sector; // first module top right, then clockwise
      var hub = [Math.cos(mid) * r0 * HUB_AT / HUB_RING, Math.sin(mid) * r0 * HUB_AT / HUB_RING];
      hubs.push({ name: g.name, value: hub, total: g.nodes.length });
      g.nodes.sort(function (a, b) { return data.nodes[b][7] - data.nodes[a][7] || a - b; });
      var start = mid - span / 2;
      var used = 0;
      g.nodes.forEach(function (index, i) {
        var size = sizes[index];
        var cell = size + 3;
        var r = Math.sqrt(r0 * r0 + 2 * (used + cell * cell / 2) / span) + cell / 2;
        used += cell * cell;
        outer = Math.max(outer, r + size / 2);
        var a = start + ((i * GOLDEN) % 1) * span;
        points.push({ index: index, x: Math.cos(a) * r, y: Math.sin(a) * r, size: size, hub: hub,
                      label: count <= 60 || i < 3 });
      });
    });
    outer *= 1.03;
    var fit = Math.min(1, H / (2 * outer));
    if (fit < 1) points.forEach(function (p) { p.size = Math.max(2.5, p.size * fit); });
    return { points: points, hubs: hubs, reach: outer };
  }

  function tooltip(data, T) {
    return function (p) {
      if (p.seriesType === "graph") {
        if (p.dataType !== "node") return "";
        return p.data.total === undefined ? "<b>" + esc(p.name) + "</b>"
          : "<b>" + esc(p.name) + "</b><br>" + p.data.total + " " + esc(T.customers);
      }
      var n = data.nodes[p.value[3]];
      var target = n[4] === 1;
      var lines = ["<b>" + esc(n[2]) + "</b>"];
      var head = [data.modules[n[3]] || T.nomodule, target ? T.target : T.stock];
      if (n[5] >= 0) head.push(T.tag + "：" + data.tags[n[5]]);
      lines.push(esc(head.join(" · ")));
      lines.push(esc((target ? T.owner_target : T.owner_stock) + "：" + (n[6] >= 0 ? data.people[n[6]] : T.unassigned)));
      lines.push(esc((target ? T.scale : T.deposit) + "：" + wan(n[7], T)));
      // Classes, not style attributes: the CSP blocks inline styles (the tooltip lives in the page, with Tabler).
      if (n[8] & 2) lines.push("<span class=\"text-danger\">" + esc(T.contested) + "</span>");
      lines.push("<span class=\"text-secondary\">" + esc(n[8] & 1 ? T.open : T.claim) + "</span>");
      return lines.join("<br>");
    };
  }

  function option(data, T, el) {
    var box = { width: el.clientWidth - 20, height: el.clientHeight - 50 };
    var g = layout(data, T, box);
    var large = data.nodes.length > 2000;
    var names = [T.stock, T.keep, T.grab, T.dig, T.untagged];
    var rows = names.map(function () { return []; });
    var edges = [];
    g.points.forEach(function (p) {
      var n = data.nodes[p.index];
      // [x, y, size, index into data.nodes, customer id]
      var row = [p.x, p.y, p.size, p.index, n[1]];
      var item = row;
      if (p.label || n[8] & 2) {
        item = { value: row };
        if (p.label) item.label = { show: true };
        if (n[8] & 2) item.itemStyle = { borderColor: "#1d1d1d", borderWidth: 2, borderType: "dashed" };
      }
      rows[kind(n)].push(item);
      if (data.nodes.length <= 300) edges.push({ coords: [p.hub, [p.x, p.y]] });
    });
    // Equal scales on both axes, whatever the box's shape: the sectors stay round.
    var rx = g.reach, ry = g.reach;
    if (box.width > box.height) rx = g.reach * box.width / box.height; else ry = g.reach * box.height / box.width;
    var hubNodes = [{ name: data.outlet, value: [0, 0], symbol: "roundRect", symbolSize: 78,
                      itemStyle: { color: COLORS.outlet },
                      label: { fontWeight: "bold", width: 72, overflow: "break", lineHeight: 15 } }]
      .concat(g.hubs.map(function (h) {
        return { name: h.name, value: h.value, total: h.total, symbolSize: 58, itemStyle: { color: COLORS.module },
                 label: { fontWeight: "bold" } };
      }));
    var series = [{
      type: "graph", coordinateSystem: "cartesian2d", z: 3, silent: false, animation: false,
      data: hubNodes, links: g.hubs.map(function (h, i) { return { source: 0, target: i + 1 }; }),
      lineStyle: { width: 3, color: "#9aa0ac", opacity: 0.8 },
      label: { show: true, position: "inside", color: "#fff", fontSize: 12 }, emphasis: { disabled: true },
    }];
    if (edges.length) {
      series.push({ type: "lines", coordinateSystem: "cartesian2d", z: 1, silent: true, animation: false,
                    data: edges, lineStyle: { color: "#c8ccd2", width: 0.6, opacity: 0.6 } });
    }
    names.forEach(function (name, k) {
      series.push({
        type: "scatter", name: name, z: 2, data: rows[k], symbolSize: function (v) { return v[2]; },
        itemStyle: { color: COLORS.kinds[k], opacity: 0.9, borderColor: "#fff", borderWidth: large ? 0 : 0.6 },
        label: { show: false, position: "right", fontSize: 11, color: "#1d273b",
                 backgroundColor: "rgba(255,255,255,0.85)", padding: [1, 3], borderRadius: 3,
                 formatter: function (p) { return data.nodes[p.value[3]][2]; } },
        // Big maps skip what costs per point (label collision checks, hover states): 5,000 points draw in a third
        // of the time; the tooltip still names each customer.
        labelLayout: large ? null : { hideOverlap: true },
        emphasis: large ? { disabled: true } : { scale: 1.4, label: { show: true } },
      });
    });
    return {
      animation: !large, animationDuration: 400,
      tooltip: { trigger: "item", confine: true, formatter: tooltip(data, T) },
      legend: { data: names, top: 4, left: "center", itemGap: 16 },
      grid: { left: 10, right: 10, top: 40, bottom: 10 },
      xAxis: { type: "value", show: false, min: -rx, max: rx },
      yAxis: { type: "value", show: false, min: -ry, max: ry, inverse: true },
      dataZoom: [{ type: "inside", xAxisIndex: 0, filterMode: "none" },
                 { type: "inside", yAxisIndex: 0, filterMode: "none" }],
      series: series,
    };
  }

  function draw(el) {
    if (el.dataset.tmInit || !window.echarts) return;
    el.dataset.tmInit = "1";
    var T = JSON.parse(el.getAttribute("data-text") || "{}");
    // Size through the CSSOM (the CSP forbids style attributes in the markup).
    el.style.height = Math.max(520, Math.min(window.innerHeight - 250, 860)) + "px";
    el.style.width = "100%";
    fetch(el.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        if (window.performance && performance.mark) performance.mark("tm-map-data");
        el.replaceChildren();
        var chart = echarts.init(el, null, { renderer: "canvas" });
        // First frame on screen: the mark the benchmark reads; once settled (animation over): ready for tests.
        chart.on("rendered", function first() {
          chart.off("rendered", first);
          if (window.performance && performance.mark) performance.mark("tm-map-rendered");
        });
        chart.on("finished", function once() {
          chart.off("finished", once);
          el.dataset.tmReady = String(data.nodes.length);
        });
        chart.setOption(option(data, T, el));
        chart.on("click", function (p) {
          if (p.seriesType !== "scatter") return;
          var n = data.nodes[p.value[3]];
          if (n[8] & 1) {
            window.location.href = el.getAttribute("data-customer-url").replace(/0$/, String(n[1]));
          } else if (window.htmx) {
            htmx.ajax("GET", el.getAttribute("data-card-url").replace(/0\/card$/, n[0] + "/card"),
                      { target: "#tm-card", swap: "innerHTML" });
          }
        });
      })
      .catch(function () {
        el.replaceChildren();
        var note = document.createElement("div");
        note.className = "text-danger small p-4";
        note.textContent = document.documentElement.lang === "en" ? "The map could not be loaded." : "生态图加载失败，请刷新页面重试。";
        el.appendChild(note);
      });
  }

  function init() {
    if (window.echarts) document.querySelectorAll("[data-tm-map]").forEach(draw);
    else if (document.querySelector("[data-tm-map]")) setTimeout(init, 50); // echarts loads deferred
  }

  if (!window.crmTargetMap) {
    window.crmTargetMap = true;
    document.body.addEventListener("htmx:afterSettle", init);
    window.addEventListener("resize", function () {
      document.querySelectorAll("[data-tm-map]").forEach(function (el) {
        var chart = window.echarts && echarts.getInstanceByDom(el);
        if (chart) chart.resize();
      });
    });
    // A select marked data-tm-autosubmit submits its form when changed (outlet switch, table filters).
    document.body.addEventListener("change", function (evt) {
      var t = evt.target;
      if (t && t.matches && t.matches("[data-tm-autosubmit]") && t.form) t.form.requestSubmit();
    });
    // 取消 in the table's edit form: close the editor.
    document.body.addEventListener("click", function (evt) {
      var t = evt.target && evt.target.closest ? evt.target.closest("[data-tm-cancel]") : null;
      if (!t) return;
      var box = document.getElementById("tm-editor");
      if (box) box.replaceChildren();
    });
    // After a successful edit in the table, the note closes after a moment.
    document.body.addEventListener("htmx:afterSettle", function () {
      var saved = document.querySelector("#tm-editor [data-tm-saved]");
      if (saved) setTimeout(function () { if (saved.isConnected) saved.remove(); }, 3000);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
