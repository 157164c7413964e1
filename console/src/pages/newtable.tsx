// A new table: its catalog and schema (made when they do not exist yet), columns, key.
import { useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { href, navigate } from "../router";
import { PageProps, tablesChanged } from "../shell";
import { ErrorBanner } from "../ui";

export const COLUMN_TYPES = [
  "string",
  "boolean",
  "int32",
  "int64",
  "float32",
  "float64",
  "decimal(10,2)",
  "date",
  "timestamp",
  "binary",
  "json",
];

type Column = { name: string; type: string; nullable: boolean; key: boolean };

export function NewTablePage(_: PageProps) {
  const [name, setName] = useState({ catalog: "main", schema: "default", table: "" });
  const [description, setDescription] = useState("");
  const [columns, setColumns] = useState<Column[]>([{ name: "id", type: "int64", nullable: false, key: true }]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const change = (i: number, patch: Partial<Column>) =>
    setColumns(columns.map((c, j) => (i === j ? { ...c, ...patch } : c)));

  const create = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await ensureNamespace(name.catalog, name.schema);
      await api(`/v1/tables/${encodeURIComponent(name.catalog)}/${encodeURIComponent(name.schema)}/${encodeURIComponent(name.table)}`, {
        method: "POST",
        body: {
          columns: columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable && !c.key })),
          primary_key: columns.filter((c) => c.key).map((c) => c.name),
          ...(description ? { description } : {}),
        },
      });
      tablesChanged();
      navigate(href(["t", name.catalog, name.schema, name.table]));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="stack" onSubmit={create} aria-label="New table">
      <h1>New table</h1>
      <ErrorBanner error={error} />
      <div class="form-inline">
        {(["catalog", "schema", "table"] as const).map((part) => (
          <label key={part}>
            {part[0].toUpperCase() + part.slice(1)}
            <input
              required
              value={name[part]}
              pattern="[A-Za-z_][A-Za-z0-9_]*"
              onInput={(e) => setName({ ...name, [part]: (e.target as HTMLInputElement).value })}
            />
          </label>
        ))}
      </div>
      <label>
        Description
        <input value={description} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
      </label>
      <table class="grid">
        <caption>Columns</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Nullable</th>
            <th scope="col">Primary key</th>
            <th scope="col">
              <span class="visually-hidden">Remove</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {columns.map((c, i) => (
            <tr key={i}>
              <td>
                <input
                  required
                  aria-label={`Column ${i + 1} name`}
                  value={c.name}
                  onInput={(e) => change(i, { name: (e.target as HTMLInputElement).value })}
                />
              </td>
              <td>
                <select aria-label={`Column ${i + 1} type`} value={c.type} onChange={(e) => change(i, { type: (e.target as HTMLSelectElement).value })}>
                  {COLUMN_TYPES.map((t) => (
                    <option key={t}>{t}</option>
                  ))}
                </select>
              </td>
              <td>
                <input
                  type="checkbox"
                  aria-label={`Column ${i + 1} nullable`}
                  checked={c.nullable && !c.key}
                  disabled={c.key}
                  onChange={(e) => change(i, { nullable: (e.target as HTMLInputElement).checked })}
                />
              </td>
              <td>
                <input
                  type="checkbox"
                  aria-label={`Column ${i + 1} primary key`}
                  checked={c.key}
                  onChange={(e) => change(i, { key: (e.target as HTMLInputElement).checked })}
                />
              </td>
              <td>
                <button type="button" aria-label={`Remove column ${i + 1}`} onClick={() => setColumns(columns.filter((_, j) => j !== i))}>
                  ×
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="actions">
        <button type="button" onClick={() => setColumns([...columns, { name: "", type: "string", nullable: true, key: false }])}>
          Add column
        </button>
        <button type="submit" class="primary" disabled={busy}>
          Create table
        </button>
      </div>
    </form>
  );
}

/** Makes the catalog and the schema unless they exist (a 409 says they do). */
export async function ensureNamespace(catalog: string, schema: string) {
  const exists = (e: unknown) => e instanceof ApiError && e.status === 409;
  await api("/v1/catalogs", { method: "POST", body: { name: catalog } }).catch((e) => {
    if (!exists(e)) throw e;
  });
  await api(`/v1/catalogs/${encodeURIComponent(catalog)}/schemas`, { method: "POST", body: { name: schema } }).catch(
    (e) => {
      if (!exists(e)) throw e;
    },
  );
}
