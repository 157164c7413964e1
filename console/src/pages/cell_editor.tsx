// One editable cell: a text box, or a dropdown for booleans and for columns with a domain
// (a hierarchical domain's choices depend on the row's parent value).
import { useEffect, useState } from "preact/hooks";
import { api, Field, TableName, tablePath } from "../api";
import { cellText } from "../ui";

/** Allowed values per column and parent value, shared by all cells of a page. */
const allowedCache = new Map<string, Promise<string[]>>();

function allowedValues(name: TableName, column: string, parent?: string | null): Promise<string[]> {
  const query = parent === undefined ? "" : `?parent_value=${encodeURIComponent(parent ?? "")}`;
  const key = `${tablePath(name)}|${column}|${query}`;
  if (!allowedCache.has(key)) {
    const loading = api(`${tablePath(name)}/columns/${encodeURIComponent(column)}/allowed-values${query}`).then(
      (a) => (a.allowed_values as { value: string }[]).map((v) => v.value),
    );
    loading.catch(() => allowedCache.delete(key));
    allowedCache.set(key, loading);
  }
  return allowedCache.get(key)!;
}

/** Domains change: a table page starts with fresh choices. */
export function forgetAllowedValues() {
  allowedCache.clear();
}

export function CellEditor({
  field,
  row,
  value,
  label,
  name,
  error,
  onChange,
  onPaste,
}: {
  field: Field;
  row: Record<string, unknown>;
  value: unknown;
  label: string;
  name: TableName;
  error?: string;
  onChange: (value: unknown) => void;
  onPaste: (text: string) => void;
}) {
  const domain = field.domain;
  const parentColumn = domain?.type === "hierarchical" ? domain.parent_column : undefined;
  const parentValue = parentColumn ? (row[parentColumn] === null ? null : cellText(row[parentColumn])) : undefined;
  const [choices, setChoices] = useState<string[] | null>(null);

  useEffect(() => {
    if (!domain) return;
    let live = true;
    allowedValues(name, field.name, parentValue).then(
      (values) => live && setChoices(values),
      () => live && setChoices(null),
    );
    return () => {
      live = false;
    };
  }, [field.name, parentValue, domain]);

  const text = value === null || value === undefined ? "" : cellText(value);
  const common = {
    "aria-label": label,
    "aria-invalid": error ? ("true" as const) : undefined,
    onPaste: (e: ClipboardEvent) => {
      const pasted = e.clipboardData?.getData("text/plain") ?? "";
      if (/[\t\n]/.test(pasted)) {
        e.preventDefault();
        onPaste(pasted);
      }
    },
  };

  if (field.type === "boolean") {
    return (
      <select {...common} value={text} onChange={(e) => onChange(fromText((e.target as HTMLSelectElement).value))}>
        <option value="">null</option>
        <option value="true">true</option>
        <option value="false">false</option>
      </select>
    );
  }
  if (domain && choices) {
    // The current value stays choosable even when it is outside the domain, so that
    // opening a row never changes it.
    const options = text && !choices.includes(text) ? [text, ...choices] : choices;
    return (
      <select {...common} value={text} onChange={(e) => onChange(fromText((e.target as HTMLSelectElement).value))}>
        <option value="">{field.nullable ? "null" : "choose…"}</option>
        {options.map((v) => (
          <option key={v} value={v}>
            {v}
          </option>
        ))}
      </select>
    );
  }
  return <input {...common} value={text} onInput={(e) => onChange(fromText((e.target as HTMLInputElement).value))} />;
}

/** An empty cell is null; everything else goes as text, which the server reads as the
 * column's type (and refuses, per cell, when it cannot). */
function fromText(text: string): unknown {
  return text === "" ? null : text;
}
