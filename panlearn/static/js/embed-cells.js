/* The per-cell "Embed" control of lesson pages.

   Each cell of a published lesson gets a small button (shown on hover and on keyboard
   focus) that opens a panel with the cell's id, the <iframe> snippet for
   /embed/lessons/<id>?cell=<cell id>[&part=output] and the oEmbed URL, each with a copy
   button. The addresses come from the article's data-* attributes, written by the
   server. Without JavaScript the lesson's "Present or embed" section explains the same. */
(function () {
  "use strict";

  var RICH = ".jp-RenderedImage, .jp-RenderedSVG, .jp-RenderedHTML, .jp-RenderedLatex, " +
             ".jp-OutputArea-output.jp-RenderedMarkdown";
  var counter = 0;
  var openPanel = null;

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function withQuery(base, params) {
    var url = new URL(base, window.location.href);
    Object.keys(params).forEach(function (key) {
      url.searchParams.set(key, params[key]);
    });
    return url.toString();
  }

  function escapeAttribute(text) {
    return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  }

  function copy(text, field, status) {
    function done() {
      status.textContent = "Copied to the clipboard.";
    }
    function fallback() {
      field.focus();
      field.select();
      var ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (error) {
        ok = false;
      }
      status.textContent = ok ? "Copied to the clipboard." : "Select the text and copy it (Ctrl+C).";
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
  }

  function close(panel, focusButton) {
    panel.hidden = true;
    var button = panel.previousElementSibling;
    button.setAttribute("aria-expanded", "false");
    panel.parentNode.classList.remove("open");
    if (focusButton) {
      button.focus();
    }
    if (openPanel === panel) {
      openPanel = null;
    }
  }

  function tools(cell, article) {
    var cellId = cell.getAttribute("data-cell-id");
    var title = article.getAttribute("aria-label") || document.title;
    var rich = cell.querySelector(RICH) !== null;
    var n = ++counter;
    var wrapper = element("div", {"class": "cell-tools"});
    var button = element("button", {
      type: "button", "class": "secondary", "aria-expanded": "false",
      "aria-controls": "embed-panel-" + n, "aria-label": "Embed this cell (" + cellId + ")"
    }, "Embed");
    var panel = element("div", {
      id: "embed-panel-" + n, "class": "embed-panel", role: "group",
      "aria-label": "Embed cell " + cellId
    });
    panel.hidden = true;

    panel.appendChild(element("p", {}, "Cell id: ")).appendChild(element("code", {}, cellId));
    var choice = element("fieldset");
    choice.appendChild(element("legend", {}, "Show"));
    var parts = [["output", "its figures only"], ["cell", "the whole cell"]];
    if (!rich) {
      parts = [["cell", "the whole cell"]];
    }
    parts.forEach(function (part, index) {
      var label = element("label");
      var radio = element("input", {type: "radio", name: "embed-part-" + n, value: part[0]});
      radio.checked = index === 0;
      label.appendChild(radio);
      label.appendChild(document.createTextNode(" " + part[1]));
      choice.appendChild(label);
    });
    panel.appendChild(choice);
    var fieldLabel = element("label", {"for": "embed-snippet-" + n}, "HTML to paste into a page");
    var field = element("textarea", {id: "embed-snippet-" + n, readonly: "", rows: "5",
                                     spellcheck: "false", "class": "embed-snippet"});
    panel.appendChild(fieldLabel);
    panel.appendChild(field);
    var actions = element("div", {"class": "actions"});
    var copySnippet = element("button", {type: "button", "class": "copy-snippet"}, "Copy HTML");
    var copyOembed = element("button", {type: "button", "class": "secondary copy-oembed"},
                             "Copy oEmbed URL");
    actions.appendChild(copySnippet);
    actions.appendChild(copyOembed);
    panel.appendChild(actions);
    var status = element("p", {role: "status"});
    panel.appendChild(status);

    function selected() {
      var checked = panel.querySelector("input[type=radio]:checked");
      return checked ? checked.value : "cell";
    }
    function addresses() {
      var params = {cell: cellId};
      if (selected() === "output") {
        params.part = "output";
      }
      var src = withQuery(article.getAttribute("data-embed-url"), params);
      var height = params.part ? 450 : 520;
      var label = title + (params.part ? " (figure)" : " (cell)");
      var snippet = "<iframe src=\"" + escapeAttribute(src) + "\" width=\"800\" height=\"" + height +
                    "\" title=\"" + escapeAttribute(label) + "\" style=\"border:0;max-width:100%\" " +
                    "loading=\"lazy\" allowfullscreen></iframe>";
      var oembed = withQuery(article.getAttribute("data-oembed-url"), {
        url: withQuery(article.getAttribute("data-page-url"), params), format: "json"});
      return {snippet: snippet, oembed: oembed};
    }
    function refresh() {
      field.value = addresses().snippet;
      status.textContent = "";
    }
    choice.addEventListener("change", refresh);
    copySnippet.addEventListener("click", function () {
      copy(addresses().snippet, field, status);
    });
    copyOembed.addEventListener("click", function () {
      copy(addresses().oembed, field, status);
    });
    button.addEventListener("click", function () {
      if (!panel.hidden) {
        close(panel, false);
        return;
      }
      if (openPanel) {
        close(openPanel, false);
      }
      refresh();
      panel.hidden = false;
      wrapper.classList.add("open");
      button.setAttribute("aria-expanded", "true");
      openPanel = panel;
      field.focus();
      field.select();
    });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        close(panel, true);
      }
    });
    wrapper.appendChild(button);
    wrapper.appendChild(panel);
    cell.insertBefore(wrapper, cell.firstChild);
  }

  function init() {
    var article = document.querySelector("article.lesson[data-embed-url]");
    if (!article || !window.URL) {
      return;
    }
    var cells = article.querySelectorAll(".pl-notebook section.pl-cell[data-cell-id]");
    for (var i = 0; i < cells.length; i++) {
      tools(cells[i], article);
    }
    document.addEventListener("click", function (event) {
      if (openPanel && !openPanel.parentNode.contains(event.target)) {
        close(openPanel, false);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
