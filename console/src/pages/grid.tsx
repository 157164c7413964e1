// A table's rows, a page at a time through the REST grammar (so a table of millions opens
// as fast as a small one), with sorting, filters and columns compiled into the request
// shown beside it, and editing as a steward does it: edit cells, add rows, paste a block
// from a spreadsheet, then save it all as one request (one commit); refused values are
// marked on their cells with the server's message.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, ApiError, download, Field, raw, TableMeta, TableName, tablePath } from "../api";
import { Can, cellText, Confirm, ErrorBanner, Loading, Notice, useAsync } from "../ui";
import { compileQuery, FilterOp, FILTER_OPS, GridQuery, parseRowError } from "./grid_query";
import { CellEditor } from "./cell_editor";

const PAGE_SIZES = [50, 100, 250, 500];
const EXPORT_FORMATS = ["csv", "parquet", "ndjson", "json", "arrow"];

type Row = Record<string, unknown>;

export function Grid({
  name,
  meta,
  can,
  version,
  onCommitted,
}: {
  name: TableName;
  meta: TableMeta;
  can: Can;
  version?: string;
  query: URLSearchParams;
  onCommitted: () => void;
}) {
  const fields = meta.schema.fields;
  const key = meta.primary_key;
  const readOnly = !!version;
  const canInsert = !readOnly && can("rows:insert");
  // Editing existing rows needs their key: an upsert replaces whole rows by key.
  const canEdit = !readOnly && key.length > 0 && can("rows:update") && canInsert;
  const canDelete = !readOnly && key.length > 0 && can("rows:delete");

  const [query, setQuery] = useState<GridQuery>({ order: [], filters: {}, hidden: new Set(), limit: 100, offset: 0 });
  // Editors get whole rows (an upsert replaces a row), so hidden columns are only hidden.
  const fetchAll = canEdit;
  const compiled = useMemo(() => compileQuery(query, fields, version, fetchAll), [query, fields, version, fetchAll]);
  const filtered = Object.keys(query.filters).length > 0;

  const page = useAsync(
    async (signal) => {
      const response = await raw(`${tablePath(name)}/rows?${compiled}`, {
        signal,
        headers: filtered ? { prefer: "count=exact" } : {},
      });
      const total = Number(response.headers.get("content-range")?.split("/")[1]);
      return { rows: (await response.json()) as Row[], total: Number.isFinite(total) ? total : null };
    },
    [compiled, meta.version],
  );

  const [edits, setEdits] = useState<Map<number, Row>>(new Map());
  const [added, setAdded] = useState<Row[]>([]);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [cellErrors, setCellErrors] = useState<Map<string, string>>(new Map());
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);

  // A new page (or a new version of the table) starts with nothing pending.
  useEffect(() => {
    setEdits(new Map());
    setSelected(new Set());
    setCellErrors(new Map());
  }, [compiled, meta.version]);

  const rows = page.data?.rows ?? [];
  const visible = fields.filter((f) => !query.hidden.has(f.name));
  const pending = edits.size + added.length;

  const setCell = (where: CellAt, column: string, value: unknown) => {
    setCellErrors((errors) => {
      const next = new Map(errors);
      next.delete(cellId(where, column));
      return next;
    });
    if (where.kind === "new") {
      setAdded((rows) => rows.map((r, i) => (i === where.index ? { ...r, [column]: value } : r)));
    } else {
      setEdits((all) => new Map(all).set(where.index, { ...(all.get(where.index) ?? {}), [column]: value }));
    }
  };

  /** A block pasted from a spreadsheet fills cells to the right and below; rows past the
   * end of the page become new rows. */
  const paste = (where: CellAt, column: string, text: string) => {
    const block = text.replace(/\r?\n$/, "").split(/\r?\n/).map((line) => line.split("\t"));
    const start = visible.findIndex((f) => f.name === column);
    let newRows = [...added];
    let newEdits = new Map(edits);
    block.forEach((values, r) => {
      values.forEach((value, c) => {
        const field = visible[start + c];
        if (!field) return;
        const v = value === "" ? null : value;
        if (where.kind === "row" && where.index + r < rows.length) {
          if (key.includes(field.name)) return;
          const index = where.index + r;
          newEdits.set(index, { ...(newEdits.get(index) ?? {}), [field.name]: v });
        } else {
          const offset = where.kind === "new" ? where.index + r : where.index + r - rows.length;
          while (newRows.length <= offset) newRows.push({});
          newRows[offset] = { ...newRows[offset], [field.name]: v };
        }
      });
    });
    setAdded(newRows);
    setEdits(canEdit ? newEdits : new Map());
  };

  const save = async () => {
    setBusy(true);
    setError(null);
    setNotice(null);
    // What the request carries, in order, and where each row is on screen.
    const places: CellAt[] = [];
    const body: Row[] = [];
    for (const [index, changed] of edits) {
      places.push({ kind: "row", index });
      body.push({ ...rows[index], ...changed });
    }
    added.forEach((row, index) => {
      places.push({ kind: "new", index });
      body.push(row);
    });
    try {
      // Edits replace their rows by key (an upsert); new rows alone are inserted, so that
      // a key that already exists is refused instead of replacing that row.
      const answer = await api(`${tablePath(name)}/rows`, {
        method: "POST",
        body,
        headers: edits.size ? { prefer: "resolution=merge-duplicates" } : {},
      });
      setEdits(new Map());
      setAdded([]);
      setCellErrors(new Map());
      setNotice(`Saved ${answer.rows} row${answer.rows === 1 ? "" : "s"}: version ${answer.version}.`);
      onCommitted();
    } catch (e) {
      setError(e);
      if (e instanceof ApiError) {
        const marked = new Map<string, string>();
        for (const detail of e.details) {
          const at = parseRowError(detail.field);
          if (at && places[at.row]) marked.set(cellId(places[at.row], at.column ?? ""), detail.message);
        }
        setCellErrors(marked);
      }
    } finally {
      setBusy(false);
    }
  };

  const deleteSelected = async () => {
    setConfirmDelete(false);
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const chosen = [...selected].map((i) => rows[i]);
      const answer = await api(`${tablePath(name)}/rows?${keyFilter(key, chosen)}`, { method: "DELETE" });
      setNotice(`Deleted ${answer.rows} row${answer.rows === 1 ? "" : "s"}: version ${answer.version}.`);
      setSelected(new Set());
      onCommitted();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const exportTable = async (format: string) => {
    setError(null);
    try {
      const response = await raw(`${tablePath(name)}/export?format=${format}${version ? `&version=${version}` : ""}`);
      await download(response, `${name.table}.${format}`);
    } catch (e) {
      setError(e);
    }
  };

  const total = page.data?.total ?? (filtered ? null : meta.num_rows);
  const first = rows.length ? query.offset + 1 : 0;
  const last = query.offset + rows.length;

  return (
    <div class="grid-view">
      <div class="toolbar" role="toolbar" aria-label="Rows">
        <button
          type="button"
          disabled={query.offset === 0}
          onClick={() => setQuery({ ...query, offset: Math.max(0, query.offset - query.limit) })}
        >
          Previous page
        </button>
        <span class="muted" data-testid="row-range">
          Rows {first.toLocaleString()}–{last.toLocaleString()}
          {total !== null ? ` of ${total.toLocaleString()}` : ""}
        </span>
        <button
          type="button"
          disabled={rows.length < query.limit}
          onClick={() => setQuery({ ...query, offset: query.offset + query.limit })}
        >
          Next page
        </button>
        <label>
          Page size
          <select
            value={query.limit}
            onChange={(e) => setQuery({ ...query, limit: Number((e.target as HTMLSelectElement).value), offset: 0 })}
          >
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <ColumnChooser
          fields={fields}
          hidden={query.hidden}
          onChange={(hidden) => setQuery({ ...query, hidden })}
        />
        <ExportMenu onExport={exportTable} />
        <span class="spacer" />
        {canInsert && (
          <button type="button" onClick={() => setAdded([...added, {}])}>
            Add row
          </button>
        )}
        {canDelete && (
          <button type="button" class="danger" disabled={!selected.size || busy} onClick={() => setConfirmDelete(true)}>
            Delete selected ({selected.size})
          </button>
        )}
        {(canInsert || canEdit) && (
          <>
            <button
              type="button"
              disabled={!pending || busy}
              onClick={() => (setEdits(new Map()), setAdded([]), setCellErrors(new Map()))}
            >
              Discard
            </button>
            <button type="button" class="primary" disabled={!pending || busy} onClick={save}>
              Save changes ({pending})
            </button>
          </>
        )}
      </div>
      <p class="request">
        <span class="muted">Request: </span>
        <code data-testid="request-url">
          GET {tablePath(name)}/rows?{compiled}
        </code>
      </p>
      {notice && <Notice>{notice}</Notice>}
      <ErrorBanner error={error ?? page.error} />
      {!readOnly && key.length === 0 && canInsert && (
        <p class="muted">This table has no primary key: rows can be added, not edited or deleted here.</p>
      )}
      <div class="table-scroll">
        <table class="grid" aria-label={`Rows of ${name.table}`} aria-busy={page.loading}>
          <thead>
            <tr>
              {canDelete && (
                <th scope="col" class="select-col">
                  <input
                    type="checkbox"
                    aria-label="Select all rows on this page"
                    checked={rows.length > 0 && selected.size === rows.length}
                    onChange={(e) =>
                      setSelected((e.target as HTMLInputElement).checked ? new Set(rows.map((_, i) => i)) : new Set())
                    }
                  />
                </th>
              )}
              {visible.map((f) => (
                <ColumnHeader
                  key={f.name}
                  field={f}
                  isKey={key.includes(f.name)}
                  query={query}
                  onQuery={setQuery}
                />
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row, index) => (
              <tr key={`r${index}`} class={edits.has(index) ? "edited" : undefined}>
                {canDelete && (
                  <td class="select-col">
                    <input
                      type="checkbox"
                      aria-label={`Select row ${query.offset + index + 1}`}
                      checked={selected.has(index)}
                      onChange={(e) => {
                        const next = new Set(selected);
                        (e.target as HTMLInputElement).checked ? next.add(index) : next.delete(index);
                        setSelected(next);
                      }}
                    />
                  </td>
                )}
                {visible.map((f) => {
                  const at: CellAt = { kind: "row", index };
                  const edited = edits.get(index);
                  const value = edited && f.name in edited ? edited[f.name] : row[f.name];
                  return (
                    <Cell
                      key={f.name}
                      field={f}
                      row={{ ...row, ...(edited ?? {}) }}
                      value={value}
                      editable={canEdit && !key.includes(f.name)}
                      changed={!!edited && f.name in edited}
                      error={cellErrors.get(cellId(at, f.name))}
                      label={`${f.name}, row ${query.offset + index + 1}`}
                      name={name}
                      onChange={(v) => setCell(at, f.name, v)}
                      onPaste={(text) => paste(at, f.name, text)}
                    />
                  );
                })}
              </tr>
            ))}
            {added.map((row, index) => (
              <tr key={`n${index}`} class="added">
                {canDelete && (
                  <td class="select-col">
                    <button type="button" aria-label={`Remove new row ${index + 1}`} onClick={() => setAdded(added.filter((_, i) => i !== index))}>
                      ×
                    </button>
                  </td>
                )}
                {visible.map((f) => {
                  const at: CellAt = { kind: "new", index };
                  return (
                    <Cell
                      key={f.name}
                      field={f}
                      row={row}
                      value={row[f.name] ?? null}
                      editable
                      changed={f.name in row}
                      error={cellErrors.get(cellId(at, f.name))}
                      label={`${f.name}, new row ${index + 1}`}
                      name={name}
                      onChange={(v) => setCell(at, f.name, v)}
                      onPaste={(text) => paste(at, f.name, text)}
                    />
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {page.loading && <Loading what="rows" />}
      {page.data && !rows.length && !added.length && <p class="muted">No rows{filtered ? " match the filters" : ""}.</p>}
      <Confirm
        open={confirmDelete}
        title="Delete rows"
        message={`Delete ${selected.size} selected row${selected.size === 1 ? "" : "s"}? This commits a new version; history keeps the old one.`}
        confirmLabel="Delete"
        onConfirm={deleteSelected}
        onCancel={() => setConfirmDelete(false)}
      />
    </div>
  );
}

type CellAt = { kind: "row" | "new"; index: number };
const cellId = (at: CellAt, column: string) => `${at.kind}:${at.index}:${column}`;

/** The selected rows as a filter on their key: `id=in.(1,2)`, or `or=(and(a.eq.1,b.eq.2),…)`. */
function keyFilter(key: string[], rows: Row[]): string {
  const quote = (v: unknown) => `"${cellText(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  if (key.length === 1) {
    return `${encodeURIComponent(key[0])}=${encodeURIComponent(`in.(${rows.map((r) => quote(r[key[0]])).join(",")})`)}`;
  }
  const items = rows.map((r) => `and(${key.map((k) => `${k}.eq.${quote(r[k])}`).join(",")})`);
  return `or=${encodeURIComponent(`(${items.join(",")})`)}`;
}

function Cell(props: {
  field: Field;
  row: Row;
  value: unknown;
  editable: boolean;
  changed: boolean;
  error?: string;
  label: string;
  name: TableName;
  onChange: (value: unknown) => void;
  onPaste: (text: string) => void;
}) {
  const classes = [props.changed && "changed", props.error && "invalid", props.value === null && "null"].filter(Boolean).join(" ");
  if (!props.editable) {
    return (
      <td class={classes || undefined} title={props.error}>
        {props.value === null ? "null" : cellText(props.value)}
        {props.error && <span class="cell-error">{props.error}</span>}
      </td>
    );
  }
  return (
    <td class={classes || undefined}>
      <CellEditor {...props} />
      {props.error && (
        <span class="cell-error" role="alert">
          {props.error}
        </span>
      )}
    </td>
  );
}

function ColumnHeader({
  field,
  isKey,
  query,
  onQuery,
}: {
  field: Field;
  isKey: boolean;
  query: GridQuery;
  onQuery: (q: GridQuery) => void;
}) {
  const sorted = query.order.find((o) => o.column === field.name);
  const filter = query.filters[field.name];
  const [op, setOp] = useState<FilterOp>(filter?.op ?? "eq");
  const [value, setValue] = useState(filter?.value ?? "");
  const timer = useRef<number | undefined>(undefined);

  const cycleSort = () => {
    const next = !sorted ? "asc" : sorted.dir === "asc" ? "desc" : null;
    const others = query.order.filter((o) => o.column !== field.name);
    onQuery({ ...query, offset: 0, order: next ? [{ column: field.name, dir: next }, ...others] : others });
  };

  const apply = (nextOp: FilterOp, nextValue: string) => {
    const filters = { ...query.filters };
    if (nextOp === "is.null" || nextOp === "not.is.null" || nextValue !== "") filters[field.name] = { op: nextOp, value: nextValue };
    else delete filters[field.name];
    onQuery({ ...query, offset: 0, filters });
  };

  return (
    <th scope="col" aria-sort={sorted ? (sorted.dir === "asc" ? "ascending" : "descending") : "none"}>
      <button type="button" class="sort" onClick={cycleSort} title="Sort (ascending, descending, none)">
        {field.name}
        {isKey && <span class="badge">key</span>}
        <span aria-hidden="true">{sorted ? (sorted.dir === "asc" ? " ▲" : " ▼") : ""}</span>
      </button>
      <span class="col-type">{field.type}</span>
      <span class="col-filter">
        <select
          aria-label={`Filter operator for ${field.name}`}
          value={op}
          onChange={(e) => {
            const next = (e.target as HTMLSelectElement).value as FilterOp;
            setOp(next);
            apply(next, value);
          }}
        >
          {FILTER_OPS.map((o) => (
            <option key={o.op} value={o.op}>
              {o.label}
            </option>
          ))}
        </select>
        <input
          aria-label={`Filter ${field.name}`}
          placeholder="filter"
          value={value}
          disabled={op === "is.null" || op === "not.is.null"}
          onInput={(e) => {
            const next = (e.target as HTMLInputElement).value;
            setValue(next);
            clearTimeout(timer.current);
            timer.current = window.setTimeout(() => apply(op, next), 400);
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              clearTimeout(timer.current);
              apply(op, value);
            }
          }}
        />
      </span>
    </th>
  );
}

function ColumnChooser({
  fields,
  hidden,
  onChange,
}: {
  fields: Field[];
  hidden: Set<string>;
  onChange: (hidden: Set<string>) => void;
}) {
  return (
    <details class="menu">
      <summary>Columns ({fields.length - hidden.size}/{fields.length})</summary>
      <div class="menu-body">
        {fields.map((f) => (
          <label key={f.name}>
            <input
              type="checkbox"
              checked={!hidden.has(f.name)}
              onChange={(e) => {
                const next = new Set(hidden);
                (e.target as HTMLInputElement).checked ? next.delete(f.name) : next.add(f.name);
                if (next.size < fields.length) onChange(next);
              }}
            />
            {f.name}
          </label>
        ))}
      </div>
    </details>
  );
}

function ExportMenu({ onExport }: { onExport: (format: string) => void }) {
  const [format, setFormat] = useState("csv");
  return (
    <span class="export">
      <label>
        Export as
        <select value={format} onChange={(e) => setFormat((e.target as HTMLSelectElement).value)}>
          {EXPORT_FORMATS.map((f) => (
            <option key={f}>{f}</option>
          ))}
        </select>
      </label>
      <button type="button" onClick={() => onExport(format)}>
        Export
      </button>
    </span>
  );
}
