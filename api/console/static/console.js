// MoatMetrics console: the little script it needs. Every page works without it.
"use strict";
(function () {
  // A dropped file goes into the upload form's file input (keyboard users use the input).
  document.querySelectorAll("form[data-dropzone]").forEach(function (form) {
    var zone = form.querySelector(".dropzone");
    var input = form.querySelector('input[type="file"]');
    if (!zone || !input) return;
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
      }
    });
  });
  // An upload still waiting for its pipeline run: look again every 2 s for up to 10 minutes.
  var status = document.querySelector("[data-upload-status]");
  if (status && status.getAttribute("data-upload-status") === "received") {
    var started = Number(sessionStorage.getItem(location.pathname) || Date.now());
    sessionStorage.setItem(location.pathname, String(started));
    if (Date.now() - started < 600000) {
      setTimeout(function () { location.reload(); }, 2000);
    }
  } else if (status) {
    sessionStorage.removeItem(location.pathname);
  }
})();
