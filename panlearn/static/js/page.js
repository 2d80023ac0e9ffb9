/* Keyboard access to boxes that scroll sideways (long code lines, wide tables, maths).

   A <pre> or table wider than the page column scrolls inside its box; keyboard users
   can only scroll it if it can take focus (WCAG 2.1.1). Such boxes get tabindex="0"
   and a label; boxes that fit get nothing, so Tab does not stop at every code cell.
   Runs on load, after maths is typeset, and when the window is resized. */
(function () {
  "use strict";
  var SELECTOR = "main pre, main .katex-display, .pl-notebook table, .table-wrap, " +
                 ".reveal pre, .reveal .slides section";
  var LABELS = {PRE: "Code or output", TABLE: "Table", SECTION: "Slide"};
  var counter = 0;

  function scrolls(box) {
    return box.scrollWidth > box.clientWidth + 1 ||
      (box.tagName === "SECTION" && box.scrollHeight > box.clientHeight + 1);
  }

  function mark() {
    var boxes = document.querySelectorAll(SELECTOR);
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      var overflowing = scrolls(box);
      if (overflowing && !box.hasAttribute("tabindex")) {
        // A group (not a landmark), named uniquely, that Tab can reach and arrows scroll.
        counter += 1;
        box.setAttribute("tabindex", "0");
        box.setAttribute("data-scroll-focus", "");
        if (!box.hasAttribute("aria-label") && box.tagName !== "TABLE") {
          box.setAttribute("role", "group");
          box.setAttribute("aria-label", (LABELS[box.tagName] || "Formula") + " " + counter +
                           ", scrolls");
        }
      } else if (!overflowing && box.hasAttribute("data-scroll-focus")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("data-scroll-focus");
        if (box.getAttribute("role") === "group") {
          box.removeAttribute("role");
          box.removeAttribute("aria-label");
        }
      }
    }
  }

  // An error message rendered with autofocus (a refused upload): make sure it has focus
  // and is in view, also where a browser only autofocuses form fields.
  function focusMessage() {
    var message = document.querySelector("[role=alert][autofocus]");
    if (message && document.activeElement !== message) {
      message.focus();
      message.scrollIntoView({block: "center"});
    }
  }

  var timer = null;
  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(mark, 150);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", later);
    document.addEventListener("DOMContentLoaded", focusMessage);
  } else {
    later();
    focusMessage();
  }
  window.addEventListener("load", later);
  window.addEventListener("resize", later);
  if (window.Reveal && window.Reveal.on) {
    window.Reveal.on("slidechanged", later);
    window.Reveal.on("ready", later);
  }
})();
