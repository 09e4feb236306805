// salon_events page script: the results funnel (ECharts) and the check-in page's camera input that submits on pick.
// May be loaded once per page swap: each element is initialised once, listeners are registered once.
(function () {
  "use strict";

  function drawFunnel(el) {
    if (!window.echarts || el.dataset.seReady) return;
    el.dataset.seReady = "1";
    var data = JSON.parse(el.getAttribute("data-se-funnel") || "{}");
    var stages = data.stages || [];
    var n = stages.length;
    el.style.height = "320px"; // CSSOM: the CSP forbids style attributes
    echarts.init(el).setOption({
      tooltip: { trigger: "item", formatter: function (p) { return p.name + "：" + p.data.count; } },
      series: [{
        // Stage widths are fixed (a funnel whatever the counts); the counts and the rate to the previous stage are
        // in the labels, so a stage larger than the one before it cannot draw a misleading shape.
        type: "funnel", sort: "none", left: "8%", width: "84%", minSize: "30%", gap: 3,
        label: { show: true, position: "inside", formatter: function (p) { return p.data.label; } },
        data: stages.map(function (s, i) {
          var prev = i ? stages[i - 1].value : 0;
          var rate = i && prev ? "（" + Math.round(s.value * 100 / prev) + "%）" : "";
          return { name: s.name, value: (n - i) * 100 / n, count: s.value, label: s.name + " " + s.value + rate };
        })
      }]
    });
  }

  function init() {
    document.querySelectorAll("[data-se-funnel]").forEach(drawFunnel);
    document.querySelectorAll("[data-se-autosubmit]").forEach(function (input) {
      if (input.dataset.seBound) return;
      input.dataset.seBound = "1";
      input.addEventListener("change", function () { if (input.files.length) input.form.submit(); });
    });
  }

  if (!window.crmSalonEvents) {
    window.crmSalonEvents = true;
    document.body.addEventListener("htmx:afterSettle", init);
    window.addEventListener("resize", function () {
      document.querySelectorAll("[data-se-funnel]").forEach(function (el) {
        var chart = window.echarts && echarts.getInstanceByDom(el);
        if (chart) chart.resize();
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
