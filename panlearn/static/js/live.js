/* The live exercise page: edit, run and check the exercise in the page (issue 15).

   The server renders the lesson as always (without JavaScript it is a reading page with a
   download and an upload form) and writes its settings into #live-config (web/live.py).
   This script then:
   - puts a code editor in each code cell (CodeMirror 6, bundled by the platform; plain
     text areas when the bundle is missing); cells the learner may not edit are read-only;
   - runs a cell with Shift-Enter (and moves on), Ctrl-Enter (and stays) or its Run button:
     POST …/runs with the learner's notebook; the server runs that cell and the cells above
     it on a fresh sandbox with the learner's data file, and answers with the outputs as
     sanitised HTML, or "stopped after N s" for a runaway cell. Runs go one at a time;
   - "Run all" runs the last code cell with every cell's outputs;
   - autosaves the learner's cells as their draft (PUT …/draft, debounced), restores it on
     load, keeps unsaved work in this browser while the network is down and retries;
   - "Check my work" submits the notebook through the submissions API (same limits, same
     record) and shows each check's result beside its cell and the score at the top. */
(function () {
  "use strict";

  var node = document.getElementById("live-config");
  if (!node || !window.fetch || !window.JSON) {
    return;
  }
  var config = JSON.parse(node.textContent);
  var CM = window.PanlearnCodeMirror || null;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : null;
  var editable = new Set(config.editable || []);
  var cells = {};          // id → {cell, section, editor, button, status, output, check}
  var order = [];          // code cell ids in notebook order
  var bar = document.getElementById("live-bar");
  var saveStatus = bar ? bar.querySelector("[data-live=save]") : null;
  var scoreBox = bar ? bar.querySelector("[data-live=score]") : null;
  var storageKey = config.exercise ? "panlearn-draft:" + config.exercise + ":" + config.user : null;

  // -- small helpers ----------------------------------------------------------------------

  function el(tag, attributes, text) {
    var element = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      element.setAttribute(name, attributes[name]);
    });
    if (text !== undefined && text !== null) {
      element.textContent = text;
    }
    return element;
  }

  function sourceOf(cell) {
    return Array.isArray(cell.source) ? cell.source.join("") : (cell.source || "");
  }

  function request(method, url, body) {
    var headers = {"Accept": "application/json"};
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    if (csrf && method !== "GET") {
      headers["X-CSRFToken"] = csrf;
    }
    return fetch(url, {method: method, headers: headers, credentials: "same-origin",
                       cache: "no-store",
                       body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        var parsed = type.indexOf("json") >= 0 && response.status !== 204
          ? response.json().catch(function () { return null; }) : Promise.resolve(null);
        return parsed.then(function (data) {
          return {status: response.status, ok: response.ok, body: data,
                  retryAfter: parseInt(response.headers.get("Retry-After") || "0", 10)};
        });
      });
  }

  function problemText(answer, fallback) {
    if (answer && answer.body && answer.body.detail) {
      return answer.body.detail;
    }
    return fallback;
  }

  function seconds(ms) {
    return (ms / 1000).toLocaleString(undefined, {maximumFractionDigits: 1});
  }

  function clockTime(iso) {
    var date = iso ? new Date(iso) : new Date();
    return date.toLocaleTimeString(undefined, {hour: "2-digit", minute: "2-digit"});
  }

  // -- the notebook the learner has -------------------------------------------------------

  function currentNotebook() {
    var notebook = JSON.parse(JSON.stringify(config.notebook));
    notebook.cells.forEach(function (cell) {
      var entry = cells[cell.id];
      if (entry && editable.has(cell.id)) {
        cell.source = entry.editor.getValue();
      }
    });
    return notebook;
  }

  function originalSource(id) {
    return sourceOf(cells[id].cell);
  }

  // -- editors ------------------------------------------------------------------------------

  function makeEditor(host, text, options) {
    host.textContent = "";
    if (!CM) {
      return plainEditor(host, text, options);
    }
    var keys = [
      {key: "Shift-Enter", run: function () { options.onRun(true); return true; }},
      {key: "Mod-Enter", run: function () { options.onRun(false); return true; }}
    ];
    var view = new CM.EditorView({
      parent: host,
      state: CM.EditorState.create({
        doc: text,
        extensions: [
          CM.keymap.of(keys),
          CM.highlightSpecialChars(), CM.history(), CM.drawSelection(), CM.indentOnInput(),
          // Token classes (tok-keyword …) coloured by live.css, with contrast checked.
          CM.syntaxHighlighting(CM.classHighlighter), CM.EditorView.lineWrapping,
          CM.bracketMatching(), CM.closeBrackets(), CM.python(), CM.indentUnit.of("    "),
          CM.keymap.of([].concat(CM.closeBracketsKeymap, CM.defaultKeymap, CM.historyKeymap,
                                 [CM.indentWithTab])),
          CM.EditorState.readOnly.of(!options.editable),
          CM.EditorView.cspNonce.of(config.style_nonce || ""),
          CM.EditorView.contentAttributes.of({"aria-label": options.label}),
          CM.EditorView.updateListener.of(function (update) {
            if (update.docChanged) {
              options.onChange();
            }
          })
        ]
      })
    });
    return {
      getValue: function () { return view.state.doc.toString(); },
      setValue: function (value) {
        view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: value}});
      },
      focus: function () { view.focus(); }
    };
  }

  function plainEditor(host, text, options) {
    var area = el("textarea", {"class": "live-textarea", "spellcheck": "false",
                               "aria-label": options.label,
                               "rows": String(Math.max(2, text.split("\n").length))});
    area.value = text;
    area.readOnly = !options.editable;
    area.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.shiftKey || event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        options.onRun(event.shiftKey);
      }
    });
    area.addEventListener("input", options.onChange);
    host.appendChild(area);
    return {
      getValue: function () { return area.value; },
      setValue: function (value) { area.value = value; options.onChange(); },
      focus: function () { area.focus(); }
    };
  }

  // -- running --------------------------------------------------------------------------------

  var queue = Promise.resolve();

  function setStatus(entry, kind, text) {
    entry.status.className = "live-status" + (kind ? " live-status-" + kind : "");
    entry.status.textContent = text;
  }

  function showOutputs(entry, html) {
    entry.output.innerHTML = html || "";
    entry.section.querySelector(".jp-Cell").classList.toggle("jp-mod-noOutputs", !html);
    if (html && typeof window.panlearnTypeset === "function") {
      window.panlearnTypeset(entry.output);
    }
  }

  function run(id, all) {
    var target = cells[id];
    var waiting = all ? order.slice(0, order.indexOf(id) + 1) : [id];
    waiting.forEach(function (other) {
      setStatus(cells[other], "waiting", "Waiting…");
    });
    var job = queue.then(function () {
      setStatus(target, "running", all ? "Running every cell…" : "Running…");
      target.button.disabled = true;
      return request("POST", config.runs, {notebook: currentNotebook(), cell: id,
                                           outputs: all ? "all" : "cell"})
        .then(function (answer) {
          if (!answer.ok) {
            var text = answer.status === 401 ? "Your session has ended: sign in again to run "
              + "cells (your draft is kept)." : problemText(answer, "Your cell did not run.");
            if (answer.retryAfter) {
              text += " Try again in " + answer.retryAfter + " s.";
            }
            waiting.forEach(function (other) { setStatus(cells[other], "error", ""); });
            setStatus(target, "error", text);
            return;
          }
          shown(answer.body, all);
        }, function () {
          waiting.forEach(function (other) { setStatus(cells[other], "error", ""); });
          setStatus(target, "error", "No connection: your cell did not run. Run it again.");
        })
        .then(function () {
          target.button.disabled = false;
        });
    });
    queue = job;
    return job;
  }

  function shown(result, all) {
    result.cells.forEach(function (cell) {
      var entry = cells[cell.cell];
      if (!entry) {
        return;
      }
      var mine = cell.cell === result.cell;
      if (mine || all) {
        showOutputs(entry, cell.html);
      }
      if (cell.status === "ok" && mine) {
        setStatus(entry, "ok", "Ran in " + seconds(result.ms) + " s");
      } else if (cell.status === "ok") {
        setStatus(entry, all ? "ok" : "", all ? "Ran" : "");
      } else if (cell.status === "timeout") {
        setStatus(entry, "error", result.message || "Stopped: it ran too long.");
      } else if (cell.status === "error") {
        setStatus(entry, "error", mine ? "Error (see below)" : (all ? "Error" :
          "This cell above failed; " + "the cell you ran may miss what it defines."));
      } else {
        setStatus(entry, "waiting", all || mine ? "Not run: the run stopped above." : "");
      }
    });
    if (result.message && result.status !== "timeout") {
      setStatus(cells[result.cell], "error", result.message);
    }
  }

  function runAndAdvance(id, advance) {
    run(id, false);
    if (advance) {
      var next = order[order.indexOf(id) + 1];
      if (next) {
        cells[next].editor.focus();
        cells[next].section.scrollIntoView({block: "nearest"});
      }
    }
  }

  // -- drafts ---------------------------------------------------------------------------------

  var dirty = false;
  var saving = false;
  var saveTimer = null;
  var failures = 0;

  function say(text, kind) {
    if (!saveStatus) {
      return;
    }
    saveStatus.textContent = text;
    saveStatus.className = "live-save" + (kind ? " live-save-" + kind : "");
  }

  function keepLocally() {
    if (!storageKey) {
      return;
    }
    try {
      var sources = {};
      config.editable.forEach(function (id) {
        if (cells[id]) {
          sources[id] = cells[id].editor.getValue();
        }
      });
      window.localStorage.setItem(storageKey, JSON.stringify({at: Date.now(), sources: sources}));
    } catch (error) {
      // Storage full or disabled: the server copy is all there is.
    }
  }

  function changed() {
    if (!config.draft || applying) {
      return;
    }
    dirty = true;
    keepLocally();
    say("Unsaved changes…");
    window.clearTimeout(saveTimer);
    saveTimer = window.setTimeout(save, 1200);
  }

  function save() {
    if (!config.draft || saving || !dirty) {
      return Promise.resolve();
    }
    saving = true;
    dirty = false;
    return request("PUT", config.draft, {notebook: currentNotebook()}).then(function (answer) {
      saving = false;
      if (answer.ok) {
        failures = 0;
        if (!dirty && storageKey) {
          window.localStorage.removeItem(storageKey);
        }
        say("Saved at " + clockTime(answer.body.saved_at) + ".", "ok");
        if (dirty) {
          changed();
        }
        return;
      }
      dirty = true;
      if (answer.status === 401 || answer.status === 403) {
        say("Not saved: your session has ended. Sign in again in another tab; your changes "
            + "are kept in this browser.", "error");
        retryLater(30);
      } else if (answer.status === 400 || answer.status === 413) {
        say("Not saved: " + problemText(answer, "the server refused the notebook."), "error");
      } else {
        retryLater(answer.retryAfter);
      }
    }, function () {
      saving = false;
      dirty = true;
      retryLater(0);
    });
  }

  function retryLater(hint) {
    failures += 1;
    var wait = Math.max(hint || 0, Math.min(30, Math.pow(2, failures)));
    say("Not saved yet: no connection to the server. Your changes are kept in this browser; "
        + "retrying in " + wait + " s…", "error");
    window.clearTimeout(saveTimer);
    saveTimer = window.setTimeout(save, wait * 1000);
  }

  window.addEventListener("online", function () {
    if (dirty) {
      window.clearTimeout(saveTimer);
      save();
    }
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty || saving) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  var applying = false;

  function apply(sources) {
    applying = true;
    Object.keys(sources).forEach(function (id) {
      if (cells[id] && editable.has(id) && typeof sources[id] === "string") {
        cells[id].editor.setValue(sources[id]);
      }
    });
    applying = false;
  }

  function restore() {
    if (!config.draft) {
      return;
    }
    var local = null;
    try {
      local = JSON.parse(window.localStorage.getItem(storageKey) || "null");
    } catch (error) {
      local = null;
    }
    request("GET", config.draft).then(function (answer) {
      var server = answer.ok && answer.body.notebook ? answer.body : null;
      var serverTime = server ? Date.parse(server.saved_at) : 0;
      if (local && local.at > serverTime) {
        apply(local.sources);
        dirty = true;
        say("Your unsaved changes from this browser are back; saving them…");
        save();
      } else if (server) {
        var sources = {};
        server.notebook.cells.forEach(function (cell) {
          sources[cell.id] = sourceOf(cell);
        });
        apply(sources);
        say("Your draft saved at " + clockTime(server.saved_at) + " is restored.", "ok");
      } else {
        say("Your cells are saved as you type.");
      }
    }, function () {
      if (local) {
        apply(local.sources);
        dirty = true;
      }
      retryLater(0);
    });
  }

  // -- reset ----------------------------------------------------------------------------------

  function resetCells() {
    applying = true;
    order.forEach(function (id) {
      if (editable.has(id)) {
        cells[id].editor.setValue(originalSource(id));
      }
    });
    applying = false;
    dirty = false;
    window.clearTimeout(saveTimer);
    if (storageKey) {
      window.localStorage.removeItem(storageKey);
    }
    if (config.draft) {
      request("DELETE", config.draft).then(function (answer) {
        say(answer.ok ? "Every cell is back to the original; your draft is gone."
          : "The cells are reset here, but the server kept your draft: "
            + problemText(answer, "try again."), answer.ok ? "ok" : "error");
      }, function () {
        say("The cells are reset here; the server could not be reached to forget your "
            + "draft.", "error");
      });
    }
  }

  function askReset() {
    var dialog = document.getElementById("live-reset");
    if (dialog && typeof dialog.showModal === "function") {
      dialog.returnValue = "";
      dialog.showModal();  // its one "close" listener (setUp) resets on "Reset my cells"
    } else if (window.confirm("Reset every cell to the original? Your changes will be lost.")) {
      resetCells();
    }
  }

  // -- check my work --------------------------------------------------------------------------

  function check(button) {
    button.disabled = true;
    scoreBox.className = "live-score";
    scoreBox.textContent = "Handing in your notebook…";
    save();
    request("POST", config.submissions, currentNotebook()).then(function (answer) {
      if (!answer.ok) {
        var text = problemText(answer, "Your notebook was not submitted.");
        if (answer.retryAfter) {
          text += " Try again in " + answer.retryAfter + " s.";
        }
        scoreBox.className = "live-score live-score-error";
        scoreBox.textContent = text;
        button.disabled = false;
        return;
      }
      scoreBox.textContent = "Grading your notebook on the real data…";
      poll(answer.body.url, answer.body.id, button, 0);
    }, function () {
      scoreBox.className = "live-score live-score-error";
      scoreBox.textContent = "No connection: your notebook was not submitted. Try again.";
      button.disabled = false;
    });
  }

  function poll(url, id, button, tries) {
    // Quick looks first (a grading takes about a tenth of a second), then the API's pace.
    var wait = tries < 20 ? 150 : 1000;
    window.setTimeout(function () {
      request("GET", url).then(function (answer) {
        if (answer.ok && answer.body.state === "graded") {
          graded(answer.body, id);
          button.disabled = false;
        } else if (answer.ok && answer.body.state === "failed") {
          scoreBox.className = "live-score live-score-error";
          scoreBox.textContent = "The platform could not grade your notebook: "
            + (answer.body.error || "try again later.");
          button.disabled = false;
        } else {
          poll(url, id, button, tries + 1);
        }
      }, function () {
        poll(url, id, button, tries + 1);
      });
    }, wait);
  }

  var ICONS = {
    passed: '<svg viewBox="0 0 20 20" aria-hidden="true" focusable="false"><circle cx="10" ' +
      'cy="10" r="9" fill="currentColor"/><path d="M5.8 10.4l2.8 2.8 5.6-6" fill="none" ' +
      'stroke="#fff" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"/></svg>',
    failed: '<svg viewBox="0 0 20 20" aria-hidden="true" focusable="false"><circle cx="10" ' +
      'cy="10" r="9" fill="currentColor"/><path d="M6.7 6.7l6.6 6.6M13.3 6.7l-6.6 6.6" ' +
      'fill="none" stroke="#fff" stroke-width="2.2" stroke-linecap="round"/></svg>'
  };

  function statusBadge(passed) {
    var badge = el("span", {"class": "status status-" + (passed ? "passed" : "failed")});
    badge.innerHTML = ICONS[passed ? "passed" : "failed"];
    badge.appendChild(document.createTextNode(passed ? "Passed" : "Not yet"));
    return badge;
  }

  function points(value) {
    return value.toLocaleString(undefined, {maximumFractionDigits: 2});
  }

  function graded(submission, id) {
    var total = submission.max_score || 0;
    var failed = submission.checks.filter(function (c) { return !c.passed; }).length;
    scoreBox.className = "live-score " + (failed ? "live-score-partial" : "live-score-full");
    scoreBox.textContent = "";
    var score = el("strong", {}, "Score " + points(submission.score) + " / " + points(total));
    scoreBox.appendChild(score);
    scoreBox.appendChild(document.createTextNode(failed
      ? " · " + failed + (failed === 1 ? " check" : " checks") + " to fix (beside the cells) · "
      : " · every check passed · "));
    scoreBox.appendChild(el("a", {href: config.result + id}, "the result page"));
    submission.checks.forEach(function (result) {
      var cellId = config.checks[result.grade_id];
      var entry = cellId && cells[cellId];
      if (!entry) {
        return;
      }
      var box = el("div", {"class": "live-check live-check-" + (result.passed ? "passed" : "failed"),
                           "role": "group", "aria-label": "Check " + result.name});
      var head = el("p");
      head.appendChild(statusBadge(result.passed));
      head.appendChild(document.createTextNode(" "));
      head.appendChild(el("span", {"class": "live-check-name"}, result.name));
      head.appendChild(el("span", {"class": "live-check-points"},
                          points(result.score) + " / " + points(result.max_score)
                          + (result.max_score === 1 ? " point" : " points")));
      box.appendChild(head);
      if (!result.passed && result.message) {
        box.appendChild(el("pre", {}, result.message));
      }
      if (entry.check) {
        entry.check.replaceWith(box);
      } else {
        entry.section.querySelector(".jp-Cell").appendChild(box);
      }
      entry.check = box;
    });
  }

  // -- the page -------------------------------------------------------------------------------

  function setUp() {
    config.notebook.cells.forEach(function (cell, index) {
      if (cell.cell_type !== "code") {
        return;
      }
      var section = document.getElementById("cell-" + cell.id);
      var host = section && section.querySelector(".jp-InputArea-editor");
      if (!host) {
        return;
      }
      var id = cell.id;
      var mayEdit = editable.has(id);
      var wrapper = section.querySelector(".jp-Cell-inputWrapper");
      if (wrapper) {
        wrapper.removeAttribute("tabindex");  // the editor is the cell's tab stop now
      }
      section.classList.add("live-cell", mayEdit ? "live-editable" : "live-readonly");
      var label = (mayEdit ? "Code cell " : "Read-only code cell ") + (order.length + 1)
        + " (Shift+Enter runs it; Escape then Tab leaves it)";
      var entry = {cell: cell, section: section};
      entry.editor = makeEditor(host, sourceOf(cell), {
        editable: mayEdit, label: label,
        onRun: function (advance) { runAndAdvance(id, advance); },
        onChange: changed
      });
      var tools = el("div", {"class": "live-cell-bar"});
      entry.button = el("button", {"type": "button", "class": "secondary live-run",
                                   "aria-label": "Run code cell " + (order.length + 1)});
      entry.button.innerHTML = '<svg viewBox="0 0 16 16" aria-hidden="true" focusable="false">' +
        '<path d="M4 2.5v11l9-5.5z" fill="currentColor"/></svg>';
      entry.button.appendChild(document.createTextNode("Run"));
      entry.button.addEventListener("click", function () { run(id, false); });
      entry.status = el("span", {"class": "live-status", "role": "status"});
      tools.appendChild(entry.button);
      if (!mayEdit) {
        tools.appendChild(el("span", {"class": "live-readonly-note"}, "read-only"));
      }
      tools.appendChild(entry.status);
      wrapper.after(tools);
      entry.output = el("div", {"class": "live-output", "aria-live": "polite"});
      var existing = section.querySelector(".jp-Cell-outputWrapper");
      if (existing) {
        existing.replaceWith(entry.output);
        entry.output.appendChild(existing);
      } else {
        tools.after(entry.output);
      }
      cells[id] = entry;
      order.push(id);
    });
    if (!order.length) {
      return;
    }
    document.documentElement.classList.add("live-page");
    if (bar) {
      bar.hidden = false;
      bar.querySelector("[data-live=run-all]").addEventListener("click", function () {
        run(order[order.length - 1], true);
      });
      var checkButton = bar.querySelector("[data-live=check]");
      if (checkButton && config.submissions) {
        checkButton.addEventListener("click", function () { check(checkButton); });
      }
      var resetButton = bar.querySelector("[data-live=reset]");
      var dialog = document.getElementById("live-reset");
      if (resetButton) {
        resetButton.addEventListener("click", askReset);
      }
      if (dialog) {
        dialog.addEventListener("close", function () {
          if (dialog.returnValue === "reset") {
            resetCells();
          }
        });
      }
    }
    document.querySelectorAll("[data-live-off]").forEach(function (hidden) {
      hidden.hidden = true;
    });
    document.querySelectorAll("[data-live-text]").forEach(function (text) {
      text.textContent = text.getAttribute("data-live-text");
    });
    restore();
  }

  setUp();
})();
