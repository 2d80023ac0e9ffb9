/* Typeset the TeX of rendered notebooks with KaTeX (served by the platform).
   Delimiters as in Jupyter: $…$, $$…$$, \(…\), \[…\]. Code and outputs are
   skipped (KaTeX ignores <pre> and <code>), so a dollar sign in code stays one.
   Without this script the maths stays readable as TeX source. */
(function () {
  "use strict";
  function typeset(root) {
    if (typeof window.renderMathInElement !== "function") {
      return;
    }
    var options = {
      delimiters: [
        {left: "$$", right: "$$", display: true},
        {left: "\\[", right: "\\]", display: true},
        {left: "$", right: "$", display: false},
        {left: "\\(", right: "\\)", display: false}
      ],
      throwOnError: false
    };
    var roots = root && root.nodeType === 1 ? [root]
      : document.querySelectorAll(".pl-notebook, .reveal .slides");
    for (var i = 0; i < roots.length; i++) {
      window.renderMathInElement(roots[i], options);
    }
  }
  // For content swapped in later (quiz feedback): typeset that element only.
  window.panlearnTypeset = typeset;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", typeset);
  } else {
    typeset();
  }
})();
