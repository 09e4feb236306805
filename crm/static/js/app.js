// 网点CRM page behaviour: toasts from HX-Trigger, flash auto-dismiss. Loaded once from base.html.
(function () {
  "use strict";

  function showToast(message, level) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "crm-toast alert alert-" + (level || "success") + " alert-dismissible shadow-sm";
    div.setAttribute("role", "alert");
    div.textContent = message; // text, never HTML
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("aria-label", "×");
    close.addEventListener("click", function () { div.remove(); });
    div.appendChild(close);
    box.appendChild(div);
    setTimeout(function () { div.remove(); }, 5000);
  }

  // Server events arrive as HX-Trigger: {"crm:toast": [{"message": "...", "level": "success"}]}
  document.body.addEventListener("crm:toast", function (evt) {
    var items = evt.detail && evt.detail.value ? evt.detail.value : evt.detail;
    (Array.isArray(items) ? items : [items]).forEach(function (t) {
      if (t && t.message) showToast(t.message, t.level);
    });
  });

  function dismissFlashes() {
    document.querySelectorAll("#toasts .crm-toast").forEach(function (el) {
      setTimeout(function () { el.remove(); }, 5000);
    });
  }
  document.addEventListener("DOMContentLoaded", dismissFlashes);
  document.body.addEventListener("htmx:afterSettle", dismissFlashes);

  // A failed htmx request (network or 5xx) tells the user instead of failing silently.
  document.body.addEventListener("htmx:responseError", function (evt) {
    var status = evt.detail.xhr ? evt.detail.xhr.status : 0;
    // A lazy box (dashboard widget, customer panel) that fails says so in place; the rest of the page works on.
    var box = evt.detail.elt && evt.detail.elt.closest ? evt.detail.elt.closest("[data-lazy-box]") : null;
    if (box) {
      var note = document.createElement("div");
      note.className = "text-secondary small";
      note.textContent = document.documentElement.lang === "en" ? "This box could not be loaded." : "此卡片暂时无法加载。";
      box.replaceChildren(note);
      return;
    }
    if (status === 404 || status === 403) showToast(document.documentElement.lang === "en" ? "Not available" : "无法访问该内容", "danger");
    else if (status >= 500) showToast(document.documentElement.lang === "en" ? "Server error, please retry" : "系统错误，请稍后重试", "danger");
  });
  document.body.addEventListener("htmx:sendError", function () {
    showToast(document.documentElement.lang === "en" ? "Network error" : "网络连接失败，请检查网络后重试", "danger");
  });
})();
