// The SQL editor (CodeMirror 6), loaded only when the SQL page opens: most visits never
// need it, and it is most of the console's code.
import { EditorView, basicSetup } from "codemirror";
import { sql, StandardSQL } from "@codemirror/lang-sql";
import { Compartment, Prec } from "@codemirror/state";
import { keymap } from "@codemirror/view";

export type SqlSchema = Record<string, string[]>;

export type SqlEditor = {
  text: () => string;
  setText: (text: string) => void;
  setSchema: (schema: SqlSchema) => void;
  focus: () => void;
  destroy: () => void;
};

export function createSqlEditor(
  parent: HTMLElement,
  initial: string,
  onRun: () => void,
  onText: (text: string) => void,
  label: string,
): SqlEditor {
  const language = new Compartment();
  const view = new EditorView({
    parent,
    doc: initial,
    extensions: [
      // Ctrl+Enter (Cmd+Enter) runs the query, before the editor's own Enter handling.
      Prec.highest(keymap.of([{ key: "Mod-Enter", run: () => (onRun(), true) }])),
      basicSetup,
      language.of(sql({ dialect: StandardSQL, upperCaseKeywords: true })),
      EditorView.contentAttributes.of({ "aria-label": label }),
      EditorView.lineWrapping,
      // CodeMirror's styles go into a <style> element, which the Content-Security-Policy
      // admits only with this page's nonce.
      EditorView.cspNonce.of(document.querySelector<HTMLMetaElement>('meta[name="lakeward-style-nonce"]')?.content ?? ""),
      EditorView.updateListener.of((update) => update.docChanged && onText(update.state.doc.toString())),
    ],
  });
  return {
    text: () => view.state.doc.toString(),
    setText: (text) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }),
    setSchema: (schema) =>
      view.dispatch({ effects: language.reconfigure(sql({ dialect: StandardSQL, upperCaseKeywords: true, schema })) }),
    focus: () => view.focus(),
    destroy: () => view.destroy(),
  };
}
