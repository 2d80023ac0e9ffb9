/* Progressive enhancement of the quiz forms (panlearn/templates/_quiz.html).
   Without this script each form posts and the page reloads at the question.
   With it, the form posts in the background and the question's new state
   (feedback, attempts left) is taken from the page the server answers with,
   so the reader keeps their place. Any failure falls back to a normal post. */
(function () {
  "use strict";
  function typeset(root) {
    if (typeof window.panlearnTypeset === "function") {
      window.panlearnTypeset(root);
    }
  }
  function enhance(form) {
    form.addEventListener("submit", function (event) {
      if (!window.fetch || !window.DOMParser || form.getAttribute("aria-busy") === "true") {
        return;
      }
      event.preventDefault();
      var section = form.closest(".pl-quiz");
      form.setAttribute("aria-busy", "true");
      fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                          headers: {"Accept": "text/html"}})
        .then(function (response) {
          return response.text().then(function (html) {
            var page = new DOMParser().parseFromString(html, "text/html");
            var fresh = page.getElementById(section.id);
            if (!fresh) { throw new Error("question not in the answer"); }
            section.replaceWith(fresh);
            // The lesson's score under the questions changes with every answer too.
            var summary = document.querySelector(".pl-quiz-summary");
            var freshSummary = page.querySelector(".pl-quiz-summary");
            if (summary && freshSummary) { summary.replaceWith(freshSummary); }
            var form2 = fresh.querySelector("form[data-quiz-form]");
            if (form2) { enhance(form2); }
            typeset(fresh);
            var focus = fresh.querySelector(".pl-quiz-feedback, [role=alert]");
            if (focus) {
              if (!focus.hasAttribute("tabindex")) { focus.setAttribute("tabindex", "-1"); }
              focus.focus();
            }
          });
        })
        .catch(function () {
          form.removeAttribute("aria-busy");
          form.submit();
        });
    });
  }
  function init() {
    var forms = document.querySelectorAll("form[data-quiz-form]");
    for (var i = 0; i < forms.length; i++) { enhance(forms[i]); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
