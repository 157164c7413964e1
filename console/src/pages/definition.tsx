// A table's definition: columns (types, comments, field metadata; add, rename, widen,
// drop), each column's domain, and CHECK constraints. A rule change that existing rows
// break is refused with their count (409 `violatingRows`), which is shown before the
// user decides to apply it anyway (domains) or to fix the rows (constraints).
import { useState } from "preact/hooks";
import { api, ApiError, Domain, Field, TableMeta, TableName, tablePath } from "../api";
import { Can, Confirm, Dialog, ErrorBanner, Notice } from "../ui";
import { COLUMN_TYPES } from "./newtable";
import { forgetAllowedValues } from "./cell_editor";

export function Definition({
  name,
  meta,
  can,
  onChanged,
}: {
  name: TableName;
  meta: TableMeta;
  can: Can;
  onChanged: () => void;
}) {
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [editing, setEditing] = useState<Field | null>(null);
  const [domainOf, setDomainOf] = useState<Field | null>(null);
  const [dropping, setDropping] = useState<Field | null>(null);
  const modify = can("tables:modify");
  const domains = can("domains:write");

  /** Runs a change; on success says what version it made and loads the table again. */
  const run = async (what: string, change: () => Promise<{ version?: number }>) => {
    setError(null);
    setNotice(null);
    try {
      const answer = await change();
      setNotice(`${what}: version ${answer?.version ?? "?"}.`);
      forgetAllowedValues();
      onChanged();
      return true;
    } catch (e) {
      setError(e);
      return false;
    }
  };

  return (
    <div class="definition">
      {notice && <Notice>{notice}</Notice>}
      <ErrorBanner error={error} />
      <table class="grid">
        <caption>Columns</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Nullable</th>
            <th scope="col">Comment</th>
            <th scope="col">Domain</th>
            <th scope="col">Metadata</th>
            {(modify || domains) && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {meta.schema.fields.map((f) => (
            <tr key={f.name}>
              <th scope="row">
                {f.name}
                {meta.primary_key.includes(f.name) && <span class="badge">key</span>}
              </th>
              <td>{f.type}</td>
              <td>{f.nullable ? "yes" : "no"}</td>
              <td>{f.comment ?? ""}</td>
              <td>{describeDomain(f.domain)}</td>
              <td>
                {Object.entries(f.metadata)
                  .filter(([k]) => !k.startsWith("lakeward.") && !k.startsWith("delta."))
                  .map(([k, v]) => `${k}=${v}`)
                  .join(", ")}
              </td>
              {(modify || domains) && (
                <td class="actions">
                  {modify && (
                    <button type="button" onClick={() => setEditing(f)} aria-label={`Change column ${f.name}`}>
                      Change
                    </button>
                  )}
                  {domains && (
                    <button type="button" onClick={() => setDomainOf(f)} aria-label={`Domain of ${f.name}`}>
                      Domain
                    </button>
                  )}
                  {modify && !meta.primary_key.includes(f.name) && (
                    <button type="button" class="danger" onClick={() => setDropping(f)} aria-label={`Drop column ${f.name}`}>
                      Drop
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {modify && <AddColumn onAdd={(body) => run(`Column ${body.name} added`, () => api(`${tablePath(name)}/columns`, { method: "POST", body }))} />}
      <Constraints name={name} meta={meta} can={can} run={run} />
      {editing && (
        <ChangeColumn
          field={editing}
          onClose={() => setEditing(null)}
          onChange={async (body) => {
            const column = encodeURIComponent(editing.name);
            if (await run(`Column ${editing.name} changed`, () => api(`${tablePath(name)}/columns/${column}`, { method: "PATCH", body }))) {
              setEditing(null);
            }
          }}
          onMetadata={async (metadata) => {
            const body = { field_name: editing.name, metadata };
            if (await run(`Metadata of ${editing.name} changed`, () => api(`${tablePath(name)}/fields/metadata`, { method: "PUT", body }))) {
              setEditing(null);
            }
          }}
        />
      )}
      {domainOf && (
        <DomainEditor
          name={name}
          field={domainOf}
          fields={meta.schema.fields}
          onClose={() => setDomainOf(null)}
          onDone={(what, version) => {
            setDomainOf(null);
            setNotice(`${what}: version ${version ?? "?"}.`);
            forgetAllowedValues();
            onChanged();
          }}
        />
      )}
      <Confirm
        open={!!dropping}
        title="Drop column"
        message={`Drop column ${dropping?.name}? Its data is rewritten out of the table; earlier versions keep it.`}
        confirmLabel="Drop"
        onCancel={() => setDropping(null)}
        onConfirm={async () => {
          const column = dropping!.name;
          setDropping(null);
          await run(`Column ${column} dropped`, () =>
            api(`${tablePath(name)}/columns/${encodeURIComponent(column)}?confirm=${encodeURIComponent(column)}`, { method: "DELETE" }),
          );
        }}
      />
    </div>
  );
}

export function describeDomain(domain: Domain | null): string {
  if (!domain) return "";
  if (domain.type === "fixed") return `fixed: ${(domain.allowed_values ?? []).map((v) => v.value).join(", ")}`;
  if (domain.type === "hierarchical") return `hierarchical (${domain.lookup?.kind ?? "?"}) under ${domain.parent_column ?? "?"}`;
  if (domain.type === "reference") return `reference`;
  return domain.type;
}

const formValue = (event: Event, key: string) =>
  String(new FormData(event.currentTarget as HTMLFormElement).get(key) ?? "").trim();

function AddColumn({ onAdd }: { onAdd: (body: Record<string, unknown>) => Promise<boolean> }) {
  return (
    <form
      class="form-inline"
      aria-label="Add column"
      onSubmit={async (e) => {
        e.preventDefault();
        const form = e.currentTarget as HTMLFormElement;
        const comment = formValue(e, "comment");
        const ok = await onAdd({ name: formValue(e, "name"), type: formValue(e, "type"), nullable: true, ...(comment ? { comment } : {}) });
        if (ok) form.reset();
      }}
    >
      <h2>Add a column</h2>
      <label>
        Name
        <input name="name" required pattern="[A-Za-z_][A-Za-z0-9_]*" />
      </label>
      <label>
        Type
        <select name="type">
          {COLUMN_TYPES.map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
      </label>
      <label>
        Comment
        <input name="comment" />
      </label>
      <button type="submit">Add column</button>
    </form>
  );
}

function ChangeColumn({
  field,
  onClose,
  onChange,
  onMetadata,
}: {
  field: Field;
  onClose: () => void;
  onChange: (body: Record<string, unknown>) => void;
  onMetadata: (metadata: Record<string, string | null>) => void;
}) {
  // One kind of change per request (each is one commit), as the API takes them.
  return (
    <Dialog title={`Column ${field.name}`} open onClose={onClose}>
      <form class="form-inline" onSubmit={(e) => (e.preventDefault(), onChange({ name: formValue(e, "name") }))}>
        <label>
          New name
          <input name="name" required defaultValue={field.name} pattern="[A-Za-z_][A-Za-z0-9_]*" />
        </label>
        <button type="submit">Rename</button>
      </form>
      <form class="form-inline" onSubmit={(e) => (e.preventDefault(), onChange({ type: formValue(e, "type") }))}>
        <label>
          Wider type
          <input name="type" required defaultValue={field.type} />
        </label>
        <button type="submit">Widen</button>
      </form>
      <form class="form-inline" onSubmit={(e) => (e.preventDefault(), onChange({ comment: formValue(e, "comment") || null }))}>
        <label>
          Comment
          <input name="comment" defaultValue={field.comment ?? ""} />
        </label>
        <button type="submit">Set comment</button>
      </form>
      <form
        class="form-inline"
        onSubmit={(e) => (e.preventDefault(), onChange({ nullable: formValue(e, "nullable") === "yes" }))}
      >
        <label>
          Nullable
          <select name="nullable" defaultValue={field.nullable ? "yes" : "no"}>
            <option>yes</option>
            <option>no</option>
          </select>
        </label>
        <button type="submit">Set nullability</button>
      </form>
      <form
        class="form-inline"
        onSubmit={(e) => {
          e.preventDefault();
          const value = formValue(e, "value");
          onMetadata({ [formValue(e, "key")]: value === "" ? null : value });
        }}
      >
        <label>
          Metadata key
          <input name="key" required />
        </label>
        <label>
          Value (empty removes it)
          <input name="value" />
        </label>
        <button type="submit">Set metadata</button>
      </form>
      <div class="actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}

type DomainKind = "none" | "fixed" | "inline" | "derived" | "table" | "reference";

function DomainEditor({
  name,
  field,
  fields,
  onClose,
  onDone,
}: {
  name: TableName;
  field: Field;
  fields: Field[];
  onClose: () => void;
  onDone: (what: string, version?: number) => void;
}) {
  const current = field.domain;
  const initial: DomainKind = !current
    ? "none"
    : current.type === "hierarchical"
      ? ((current.lookup?.kind as DomainKind) ?? "inline")
      : (current.type as DomainKind);
  const [kind, setKind] = useState<DomainKind>(initial);
  const [error, setError] = useState<unknown>(null);
  const [violating, setViolating] = useState<{ rows: number; retry: () => void } | null>(null);
  const base = `${tablePath(name)}/columns/${encodeURIComponent(field.name)}/domain`;
  const others = fields.filter((f) => f.name !== field.name).map((f) => f.name);

  const submit = async (path: string, body: unknown, force = false) => {
    setError(null);
    setViolating(null);
    try {
      const answer = await api(`${base}${path}${force ? "?force=true" : ""}`, { method: "PUT", body });
      onDone(`Domain of ${field.name} set`, answer.version);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && typeof e.body.violatingRows === "number") {
        setViolating({ rows: e.body.violatingRows, retry: () => submit(path, body, true) });
      } else setError(e);
    }
  };

  const remove = async () => {
    try {
      const answer = await api(base, { method: "DELETE" });
      onDone(`Domain of ${field.name} removed`, answer.version);
    } catch (e) {
      setError(e);
    }
  };

  const onSubmit = (e: Event) => {
    e.preventDefault();
    const v = (k: string) => formValue(e, k);
    switch (kind) {
      case "fixed":
        return submit("/fixed", { allowed_values: v("values").split("\n").map((s) => s.trim()).filter(Boolean) });
      case "inline": {
        // One line per parent: `parent: child, child`.
        const mappings: Record<string, string[]> = {};
        for (const line of v("mappings").split("\n")) {
          const [parent, children = ""] = line.split(":");
          if (parent.trim()) mappings[parent.trim()] = children.split(",").map((c) => c.trim()).filter(Boolean);
        }
        return submit("/hierarchical/inline", { parent_column: v("parent"), mappings });
      }
      case "derived":
        return submit("/hierarchical/derived", { parent_column: v("parent") });
      case "table":
        return submit("/hierarchical/table", {
          parent_column: v("parent"),
          table_name: v("table"),
          parent_key: v("parent_key"),
          child_key: v("child_key"),
        });
      case "reference": {
        const [catalog, schema, table] = v("table").split(".");
        return submit("/reference", { table_reference: { catalog, schema, table }, column: v("column") });
      }
    }
  };

  const parentSelect = (
    <label>
      Parent column
      <select name="parent" defaultValue={current?.parent_column}>
        {others.map((o) => (
          <option key={o}>{o}</option>
        ))}
      </select>
    </label>
  );

  return (
    <Dialog title={`Domain of ${field.name}`} open onClose={onClose}>
      <ErrorBanner error={error} />
      {violating && (
        <div class="banner warn" role="alert">
          {violating.rows} existing row{violating.rows === 1 ? "" : "s"} would violate this domain.{" "}
          <button type="button" class="danger" onClick={violating.retry}>
            Apply anyway
          </button>
        </div>
      )}
      <form class="stack" onSubmit={onSubmit}>
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value as DomainKind)}>
            <option value="none">none</option>
            <option value="fixed">fixed values</option>
            <option value="inline">hierarchical: inline mapping</option>
            <option value="derived">hierarchical: derived from the data</option>
            <option value="table">hierarchical: lookup table</option>
            <option value="reference">reference to another table's column</option>
          </select>
        </label>
        {kind === "fixed" && (
          <label>
            Allowed values, one per line
            <textarea name="values" rows={6} defaultValue={(current?.allowed_values ?? []).map((v) => v.value).join("\n")} />
          </label>
        )}
        {kind === "inline" && (
          <>
            {parentSelect}
            <label>
              Children per parent, one line each as <code>parent: child, child</code>
              <textarea name="mappings" rows={6} />
            </label>
          </>
        )}
        {kind === "derived" && parentSelect}
        {kind === "table" && (
          <>
            {parentSelect}
            <label>
              Lookup table (catalog.schema.table)
              <input name="table" required />
            </label>
            <label>
              Its parent key column
              <input name="parent_key" required />
            </label>
            <label>
              Its child key column
              <input name="child_key" required />
            </label>
          </>
        )}
        {kind === "reference" && (
          <>
            <label>
              Table (catalog.schema.table)
              <input name="table" required />
            </label>
            <label>
              Column
              <input name="column" required />
            </label>
          </>
        )}
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          {kind === "none" ? (
            current && (
              <button type="button" class="danger" onClick={remove}>
                Remove domain
              </button>
            )
          ) : (
            <button type="submit" class="primary">
              Apply domain
            </button>
          )}
        </div>
      </form>
    </Dialog>
  );
}

function Constraints({
  name,
  meta,
  can,
  run,
}: {
  name: TableName;
  meta: TableMeta;
  can: Can;
  run: (what: string, change: () => Promise<{ version?: number }>) => Promise<boolean>;
}) {
  const modify = can("tables:modify");
  return (
    <section>
      <h2>Constraints</h2>
      {meta.constraints.length === 0 && <p class="muted">No CHECK constraints.</p>}
      <ul>
        {meta.constraints.map((c) => (
          <li key={c.name}>
            <code>{c.name}</code>: <code>{c.expr}</code>{" "}
            {modify && (
              <button
                type="button"
                class="danger"
                aria-label={`Drop constraint ${c.name}`}
                onClick={() =>
                  run(`Constraint ${c.name} dropped`, () =>
                    api(`${tablePath(name)}/constraints/${encodeURIComponent(c.name)}`, { method: "DELETE" }),
                  )
                }
              >
                Drop
              </button>
            )}
          </li>
        ))}
      </ul>
      {modify && (
        <form
          class="form-inline"
          aria-label="Add constraint"
          onSubmit={async (e) => {
            e.preventDefault();
            const form = e.currentTarget as HTMLFormElement;
            const body = { constraints: [{ name: formValue(e, "name"), expr: formValue(e, "expr") }] };
            // Rows that break it are counted by the server and named in the refusal.
            if (await run(`Constraint added`, () => api(`${tablePath(name)}/constraints`, { method: "POST", body }))) form.reset();
          }}
        >
          <label>
            Name
            <input name="name" required pattern="[A-Za-z_][A-Za-z0-9_]*" />
          </label>
          <label>
            Expression
            <input name="expr" required placeholder="qty >= 0" />
          </label>
          <button type="submit">Add constraint</button>
        </form>
      )}
    </section>
  );
}
