// Segmentation widget charts (ECharts): tier pyramid and segment sizes. Data comes from data-seg-chart (JSON);
// the file may be loaded once per widget swap, so it initialises each chart once and registers its listener once.
(function () {
  "use strict";

  // Tooltips are set as HTML: segment names are typed by users (custom rules), so they are escaped.
  function esc(text) {
    return window.echarts.format.encodeHTML(String(text));
  }

  function draw(root) {
    if (!window.echarts || root.dataset.segReady) return;
    root.dataset.segReady = "1";
    var data = JSON.parse(root.getAttribute("data-seg-chart") || "{}");
    var pyramidBox = root.querySelector("[data-seg-pyramid]");
    var barBox = root.querySelector("[data-seg-bars]");
    // Heights set through the CSSOM: the CSP forbids style attributes in the markup.
    [pyramidBox, barBox].forEach(function (el) { if (el) el.style.height = "220px"; });
    if (pyramidBox && data.pyramid && data.pyramid.length) {
      var n = data.pyramid.length;
      echarts.init(pyramidBox).setOption({
        tooltip: { trigger: "item", formatter: function (p) { return esc(p.name) + "：" + p.data.count; } },
        series: [{
          type: "funnel", sort: "ascending", left: "10%", width: "80%", minSize: "20%", gap: 2,
          label: { show: true, position: "inside", formatter: function (p) { return p.name + "\n" + p.data.count; } },
          // The top tier first and narrowest: a pyramid whatever the counts (the counts are in the labels).
          data: data.pyramid.map(function (d, i) { return { name: d.name, value: (i + 1) * 100 / n, count: d.value }; })
        }],
      });
    }
    if (barBox && data.segments && data.segments.length) {
      var segs = data.segments.slice(0, 12).reverse();
      echarts.init(barBox).setOption({
        // Long segment names are cut at 9em (the full name is in the tooltip); the values are on the bars, so the
        // value axis carries no labels that could collide. The tooltip is plain text: ECharts' default one draws
        // its colour dot with a style attribute, which the Content-Security-Policy blocks.
        tooltip: { trigger: "item", formatter: function (p) { return esc(p.name) + "：" + p.value; } },
        grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
        xAxis: { type: "value", minInterval: 1, axisLabel: { show: false }, splitLine: { show: false } },
        yAxis: { type: "category", data: segs.map(function (d) { return d.name; }),
                 axisLabel: { width: 126, overflow: "truncate" } },
        series: [{ type: "bar", data: segs.map(function (d) { return d.value; }), label: { show: true, position: "right" } }],
      });
    }
  }

  function drawAll() {
    document.querySelectorAll("[data-seg-chart]").forEach(draw);
  }

  if (!window.crmSegmentationCharts) {
    window.crmSegmentationCharts = true;
    document.body.addEventListener("htmx:afterSettle", drawAll);
    window.addEventListener("resize", function () {
      document.querySelectorAll("[data-seg-pyramid], [data-seg-bars]").forEach(function (el) {
        var chart = window.echarts && echarts.getInstanceByDom(el);
        if (chart) chart.resize();
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
