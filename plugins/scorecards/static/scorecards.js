// scorecards page script: a person's trend (line), the balanced-scorecard radar and the outlet PK bar chart (ECharts).
// May be loaded once per page swap: each chart element is initialised once, listeners are registered once.
(function () {
  "use strict";

  function num(v) { return v === null || v === undefined ? null : Number(v); }

  function draw(el) {
    if (!window.echarts || el.dataset.scReady) return;
    el.dataset.scReady = "1";
    var data = JSON.parse(el.getAttribute("data-sc-chart") || "null");
    if (!data) return;
    var kind = el.getAttribute("data-sc-kind");
    var chart = echarts.init(el);
    if (kind === "trend") {
      chart.setOption({
        tooltip: { trigger: "axis" }, legend: { type: "scroll", bottom: 0 },
        grid: { left: 40, right: 20, top: 20, bottom: 60 },
        xAxis: { type: "category", data: data.labels }, yAxis: { type: "value", name: "分" },
        series: data.series.map(function (s) { return { name: s.name, type: "line", connectNulls: false, data: s.data.map(num) }; })
      });
    } else if (kind === "radar") {
      chart.setOption({
        tooltip: {},
        radar: { indicator: data.indicators.map(function (i) { return { name: i.name, max: num(i.max) }; }) },
        series: [{ type: "radar", data: [{ value: data.values.map(num), name: data.name, areaStyle: {} }] }]
      });
    } else if (kind === "pk") {
      chart.setOption({
        tooltip: { trigger: "axis" }, grid: { left: 110, right: 30, top: 10, bottom: 20 },
        xAxis: { type: "value", name: "平均分" },
        yAxis: { type: "category", inverse: true, data: data.names },
        series: [{ type: "bar", data: data.values.map(num), label: { show: true, position: "right" } }]
      });
    }
  }

  function init() { document.querySelectorAll("[data-sc-chart]").forEach(draw); }

  if (!window.crmScorecards) {
    window.crmScorecards = true;
    document.body.addEventListener("htmx:afterSettle", init);
    window.addEventListener("resize", function () {
      document.querySelectorAll("[data-sc-chart]").forEach(function (el) {
        var chart = window.echarts && echarts.getInstanceByDom(el);
        if (chart) chart.resize();
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
