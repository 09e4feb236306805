// Certificate preview (实习证明): the A4-landscape page (297mm × 210mm) shrunk to the width of its column. Sizes
// go through the CSSOM (the CSP forbids style attributes). Runs on load, after every htmx swap and on resize.
(function () {
  "use strict";
  var MM = 96 / 25.4; // CSS pixels per millimetre
  var PAGE_W = 297 * MM;
  var PAGE_H = 210 * MM;

  function fit() {
    document.querySelectorAll("[data-cert-preview]").forEach(function (frame) {
      var inner = frame.querySelector(".cert-preview-scale");
      if (!inner || !frame.clientWidth) return;
      var scale = Math.min(1, frame.clientWidth / PAGE_W);
      inner.style.transform = "scale(" + scale + ")";
      frame.style.height = Math.ceil(PAGE_H * scale) + "px";
    });
  }

  fit();
  if (!window.crmCertPreview) {
    window.crmCertPreview = true;
    document.body.addEventListener("htmx:afterSettle", fit);
    window.addEventListener("resize", fit);
  }
})();
