// 外拓计划 Gantt: frappe-gantt 1.2.2 with Chinese date labels. Dragging or stretching a bar posts the new
// planned dates (fetch, X-CSRFToken from <body hx-headers>); the server validates them and answers JSON. On a refusal
// the bar goes back to the stored dates and a toast says why. The file may run again after a boosted navigation:
// each chart initialises once, the global listeners are registered once.
(function () {
  "use strict";

  // Bar and progress colours per state (set through the CSSOM: the CSP forbids style attributes).
  var COLORS = {
    planned: ["#c9d1dd", "#95a2b5"],
    in_progress: ["#a9c8ee", "#3d7fc9"],
    overdue: ["#f3b1b1", "#d63939"],
    done: ["#a8dcb3", "#2fb344"]
  };

  function esc(value) {
    return String(value == null ? "" : value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function ymd(d) { return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()); }

  var EN = document.documentElement.lang === "en";

  function monthLabel(d) {
    return EN ? d.toLocaleDateString("en", { year: "numeric", month: "short" }) : d.getFullYear() + "年" + (d.getMonth() + 1) + "月";
  }

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; }
    catch (e) { return ""; }
  }

  function toast(message, level) {
    document.body.dispatchEvent(new CustomEvent("crm:toast", { detail: [{ message: message, level: level || "success" }] }));
  }

  function colorsOf(t) { return COLORS[t.overdue ? "overdue" : t.status] || COLORS.planned; }

  // Chinese labels for the three scales; Day first (frappe starts with the first mode given).
  var VIEW_MODES = [
    { name: "Day", padding: "7d", step: "1d", date_format: "YYYY-MM-DD", column_width: 38,
      lower_text: function (d) { return d.getDate() + ""; },
      upper_text: function (d, prev) { return !prev || d.getMonth() !== prev.getMonth() ? monthLabel(d) : ""; },
      thick_line: function (d) { return d.getDay() === 1; } },
    { name: "Week", padding: "1m", step: "7d", date_format: "YYYY-MM-DD", column_width: 120,
      lower_text: function (d) {
        var e = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 6);
        return (d.getMonth() + 1) + "/" + d.getDate() + "–" + (e.getMonth() + 1) + "/" + e.getDate();
      },
      upper_text: function (d, prev) { return !prev || d.getMonth() !== prev.getMonth() ? monthLabel(d) : ""; },
      thick_line: function (d) { return d.getDate() >= 1 && d.getDate() <= 7; }, upper_text_frequency: 4 },
    { name: "Month", padding: "2m", step: "1m", date_format: "YYYY-MM", column_width: 110, snap_at: "7d",
      lower_text: function (d) { return EN ? d.toLocaleDateString("en", { month: "short" }) : (d.getMonth() + 1) + "月"; },
      upper_text: function (d, prev) { return !prev || d.getFullYear() !== prev.getFullYear() ? d.getFullYear() + (EN ? "" : "年") : ""; },
      thick_line: function (d) { return d.getMonth() % 3 === 0; } }
  ];

  function ganttClass() {
    if (window.CrmGantt) return window.CrmGantt;
    // Frappe Gantt draws weekend highlights and a hatch pattern with inline style attributes, which the CSP refuses
    // (a console error on every render). This subclass draws weekends with the CSSOM and skips the unused pattern.
    window.CrmGantt = class extends window.Gantt {
      make_grid_highlights() {
        this.config.ignored_positions = [];
        if (this.config.view_mode.name === "Day") {
          var cw = this.config.column_width, top = this.config.header_height, height = this.grid_height - top;
          var start = this.gantt_start;
          for (var i = 0; i < this.dates.length; i++) {
            var day = new Date(start.getFullYear(), start.getMonth(), start.getDate() + i);
            if (day.getDay() !== 0 && day.getDay() !== 6) continue;
            var rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
            rect.setAttribute("x", i * cw);
            rect.setAttribute("y", top);
            rect.setAttribute("width", cw);
            rect.setAttribute("height", height);
            rect.setAttribute("class", "crm-weekend");
            rect.style.fill = "rgba(29, 58, 95, 0.05)";
            this.layers.grid.appendChild(rect);
          }
        }
        this.highlight_current(this.config.view_mode);
      }
    };
    return window.CrmGantt;
  }

  // Dates dragged but not yet sent: frappe reports every step of a drag; we send once, on mouse-up.
  var pending = {};

  function flush() {
    Object.keys(pending).forEach(function (id) {
      var p = pending[id];
      delete pending[id];
      if (p.start === p.task.saved_start && p.end === p.task.saved_end) return;
      send(p.chart, p.task, p.start, p.end);
    });
  }

  function send(chart, task, start, end) {
    var root = chart.root;
    var body = new URLSearchParams({ planned_start: start, planned_end: end, version: String(task.version) });
    root.dataset.saving = "1";
    fetch(task.reschedule, {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
    }).then(function (resp) {
      return resp.json().catch(function () { return { ok: false, error: resp.status === 404 ? root.dataset.msgNotfound : root.dataset.msgError }; })
        .then(function (data) { return { status: resp.status, data: data }; });
    }).then(function (r) {
      var data = r.data;
      if (data.ok) {
        task.version = data.version;
        task.saved_start = data.start;
        task.saved_end = data.end;
        task.start = data.start;
        task.end = data.end;
        task.overdue = !!data.overdue;
        var row = document.querySelector('[data-task-row="' + task.task_id + '"] [data-planned]');
        if (row) row.textContent = data.start + " ~ " + data.end;
        var bar = chart.gantt.get_bar(task.id);
        if (bar) {
          bar.$bar.style.fill = colorsOf(task)[0];
          if (bar.$bar_progress) bar.$bar_progress.style.fill = colorsOf(task)[1];
        }
        toast(data.message, "success");
      } else {
        if (data.version) task.version = data.version;
        toast(root.dataset.msgFailed + (data.error || ""), "danger");
        revert(chart, task, data.start || task.saved_start, data.end || task.saved_end);
      }
    }).catch(function () {
      toast(root.dataset.msgNetwork, "danger");
      revert(chart, task, task.saved_start, task.saved_end);
    }).finally(function () {
      delete root.dataset.saving;
      root.dataset.saved = String(Number(root.dataset.saved || "0") + 1);
    });
  }

  function revert(chart, task, start, end) {
    task.saved_start = task.start = start;
    task.saved_end = task.end = end;
    rebuild(chart);
  }

  function freshTasks(chart) {
    // setup_tasks parses start/end again only for tasks without their parsed copies.
    return chart.tasks.map(function (t) {
      var copy = {};
      Object.keys(t).forEach(function (k) { if (k.charAt(0) !== "_") copy[k] = t[k]; });
      chart.byId[copy.id] = copy;
      return copy;
    });
  }

  function rebuild(chart) {
    var box = chart.gantt.$container, left = box.scrollLeft;
    chart.tasks = freshTasks(chart);
    chart.gantt.refresh(chart.tasks);
    box.scrollLeft = left;
  }

  function init(root) {
    if (root.dataset.ready || !window.Gantt) return;
    root.dataset.ready = "1";
    var L = root.dataset;
    var tasks = JSON.parse(root.getAttribute("data-gantt") || "[]").map(function (t) {
      var c = colorsOf(t);
      t.name = esc(t.name); // frappe writes the label with innerHTML
      t.color = c[0];
      t.color_progress = c[1];
      t.custom_class = t.editable ? "crm-editable" : "crm-readonly";
      t.saved_start = t.start;
      t.saved_end = t.end;
      return t;
    });
    var chart = { root: root, tasks: tasks, byId: {} };
    tasks.forEach(function (t) { chart.byId[t.id] = t; });
    var today = root.getAttribute("data-today");
    var inRange = tasks.some(function (t) { return t.start <= today; }) && tasks.some(function (t) { return t.end >= today; });
    var Chart = ganttClass();
    chart.gantt = new Chart(root, tasks, {
      view_modes: VIEW_MODES.map(function (m) { return Object.assign({}, m); }),
      language: EN ? "en" : "zh-CN",
      bar_height: 26, padding: 14, bar_corner_radius: 4,
      upper_header_height: 34, lower_header_height: 26,
      infinite_padding: false, today_button: false, view_mode_select: false,
      readonly_progress: true, move_dependencies: false, holidays: {}, popup_on: "click",
      scroll_to: "start",
      popup: function (p) {
        var t = chart.byId[p.task.id] || p.task;
        var end = new Date(p.task._end.getTime() - 1000);
        p.set_title(esc(t.customer));
        p.set_subtitle(esc(t.title));
        p.set_details(esc(L.labelOwner) + "：" + esc(t.owner) + "<br>" + esc(L.labelPlanned) + "：" +
          esc(ymd(p.task._start)) + " ~ " + esc(ymd(end)) + "<br>" + esc(L.labelStatus) + "：" + esc(t.status_label));
        p.add_action(esc(L.labelOpen), function () { window.location.href = t.url; });
      },
      on_date_change: function (task, start, end) {
        var t = chart.byId[task.id];
        if (!t || !t.editable) return;
        pending[task.id] = { chart: chart, task: t, start: ymd(start), end: ymd(end) };
      },
      on_double_click: function (task) {
        var t = chart.byId[task.id];
        if (t) window.location.href = t.url;
      }
    });
    // Bars the user may not move (done, or someone else's task) ignore the drag: stop the press before frappe sees it.
    root.addEventListener("mousedown", function (e) {
      var wrapper = e.target.closest ? e.target.closest(".bar-wrapper") : null;
      if (wrapper && !(chart.byId[wrapper.getAttribute("data-id")] || {}).editable) e.stopPropagation();
    }, true);
    var card = root.closest(".card");
    if (card) {
      card.querySelectorAll("[data-gantt-mode]").forEach(function (btn) {
        btn.addEventListener("click", function () {
          card.querySelectorAll("[data-gantt-mode]").forEach(function (b) { b.classList.remove("active"); });
          btn.classList.add("active");
          chart.gantt.change_view_mode(btn.getAttribute("data-gantt-mode"));
        });
      });
      var todayBtn = card.querySelector("[data-gantt-today]");
      if (todayBtn) todayBtn.addEventListener("click", function () { chart.gantt.scroll_current(); });
    }
    // Today about a quarter from the left (frappe puts it at the edge), or the first bar when today is not shown.
    var box = chart.gantt.$container;
    var origin = chart.gantt.gantt_start;
    var focus = inRange ? new Date() : chart.gantt.tasks.reduce(function (a, t) { return t._start < a ? t._start : a; }, chart.gantt.tasks[0]._start);
    var days = Math.round((new Date(focus.getFullYear(), focus.getMonth(), focus.getDate()) - origin) / 86400000);
    if (chart.gantt.config.view_mode.name === "Day") box.scrollLeft = Math.max(0, days * chart.gantt.config.column_width - box.clientWidth / 4);
    root.crmChart = chart;
  }

  function initAll() { document.querySelectorAll("[data-gantt]").forEach(init); }

  if (!window.crmPlansGantt) {
    window.crmPlansGantt = true;
    // After frappe's own mouse-up handlers have finished the drag.
    document.addEventListener("mouseup", function () { setTimeout(flush, 0); });
    document.body.addEventListener("htmx:afterSettle", initAll);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initAll);
  else initAll();
})();
