/* The parts of CodeMirror 6 the live exercise page uses, bundled at install time.

   `python -m panlearn.web.assets install` bundles this file with esbuild (an npm package
   pinned in static/vendor.json) into static/vendor/bundles/codemirror.js, an IIFE that
   sets window.PanlearnCodeMirror; js/live.js reads it. Never loaded from a CDN. */
export {
  EditorView, keymap, drawSelection, highlightSpecialChars, highlightActiveLine, placeholder,
} from "@codemirror/view";
export { EditorState, Compartment } from "@codemirror/state";
export { python } from "@codemirror/lang-python";
export { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
export {
  syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching, indentUnit,
} from "@codemirror/language";
export { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
export { classHighlighter } from "@lezer/highlight";
