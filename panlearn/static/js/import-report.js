/* The import page: fetch the report fragment every second until the job is done.
   Without JavaScript the page reloads itself (a <noscript> refresh) instead. */
(function () {
  "use strict";
  var box = document.getElementById("import-report");
  if (!box) {
    return;
  }
  var url = box.getAttribute("data-report-url");
  var every = parseInt(box.getAttribute("data-poll-ms"), 10) || 1000;
  function running() {
    var report = box.querySelector(".ws-report");
    return report && report.getAttribute("data-running") === "true";
  }
  function poll() {
    if (!running()) {
      return;
    }
    fetch(url, {credentials: "same-origin", cache: "no-store"})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        box.innerHTML = html;
        window.setTimeout(poll, every);
      })
      .catch(function () {
        // A lost connection loses nothing: try again a little later.
        window.setTimeout(poll, every * 3);
      });
  }
  window.setTimeout(poll, every);
})();
