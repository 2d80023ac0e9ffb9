/* The result page while grading: ask the API every second, show the result when it is in.

   The API's Retry-After paces clients by the queue; this page polls at most every second
   (a JSON GET is cheap) so that the result appears within a second of grading, and reloads
   itself once the submission is graded or failed. Without JavaScript the page has a meta
   refresh of one to two seconds instead (inside <noscript>, so only one of them runs). */
(function () {
  "use strict";
  var MAX_WAIT_MS = 1000;
  var MIN_WAIT_MS = 250;
  var box = document.getElementById("submission-state");
  if (!box || !box.getAttribute("data-poll-url") || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-poll-url");
  var shown = null;
  var failures = 0;

  function describe(state) {
    if (state === "running" && shown !== "running") {
      var text = box.querySelector(".status");
      if (text) {
        text.lastChild.textContent = "Running your notebook on the real data…";
      }
    }
    shown = state;
  }

  function schedule(ms) {
    window.setTimeout(poll, Math.max(MIN_WAIT_MS, Math.min(MAX_WAIT_MS, ms)));
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}, cache: "no-store"})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        var hint = parseFloat(response.headers.get("Retry-After") || "1") * 1000;
        return response.json().then(function (body) {
          return {body: body, wait: hint};
        });
      })
      .then(function (answer) {
        failures = 0;
        if (answer.body.state === "graded" || answer.body.state === "failed") {
          window.location.reload();
          return;
        }
        describe(answer.body.state);
        schedule(answer.wait);
      })
      .catch(function () {
        // A network hiccup: back off a little, then keep going (the page stays usable).
        failures += 1;
        window.setTimeout(poll, Math.min(10000, 1000 * failures));
      });
  }

  schedule(MAX_WAIT_MS);
})();
