// SQL against the caller's tables (the read-only sandbox of POST /v1/sql): an editor that
// completes table and column names, Ctrl+Enter to run, the result as a grid, its export,
// and the last queries kept in this browser.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, download, raw } from "../api";
import { listTables, PageProps } from "../shell";
import { ErrorBanner, Loading, ResultTable } from "../ui";
import type { SqlEditor } from "../sql_editor";

const RECENT_MAX = 20;
type Result = { columns: { name: string; type: string }[]; rows: Record<string, unknown>[]; runtime_seconds: number };

export function SqlPage({ signed }: PageProps) {
  const recentKey = `lakeward.recent-sql.${signed.me.id}`;
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<SqlEditor | null>(null);
  const [recent, setRecent] = useState<string[]>(() => JSON.parse(localStorage.getItem(recentKey) ?? "[]"));
  const [result, setResult] = useState<Result | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [running, setRunning] = useState(false);
  const [ready, setReady] = useState(false);
  const runRef = useRef<() => void>(() => {});

  const run = async () => {
    const query = editor.current?.text().trim();
    if (!query) return;
    setRunning(true);
    setError(null);
    try {
      setResult(await api<Result>("/v1/sql", { method: "POST", body: { query } }));
      const next = [query, ...recent.filter((q) => q !== query)].slice(0, RECENT_MAX);
      setRecent(next);
      localStorage.setItem(recentKey, JSON.stringify(next));
    } catch (e) {
      setResult(null);
      setError(e);
    } finally {
      setRunning(false);
    }
  };
  runRef.current = run;

  useEffect(() => {
    let created: SqlEditor | null = null;
    let live = true;
    // Completion: every table by its full name, and the columns of the tables the query
    // names (one definition each, fetched once), not of every table in the organisation.
    const schema: Record<string, string[]> = {};
    const described = new Set<string>();
    let timer: number | undefined;
    const describeNamed = (text: string) => {
      clearTimeout(timer);
      timer = window.setTimeout(async () => {
        const named = [...text.matchAll(/\b(\w+)\.(\w+)\.(\w+)\b/g)].filter((m) => m[0] in schema && !described.has(m[0]));
        for (const [full, catalog, schemaName, table] of named) {
          described.add(full);
          try {
            const meta = await api(`/v1/tables/${catalog}/${schemaName}/${table}`);
            schema[full] = meta.schema.fields.map((f: { name: string }) => f.name);
          } catch {
            /* a table that cannot be described completes by name only */
          }
        }
        if (named.length && live) created?.setSchema({ ...schema });
      }, 500);
    };
    import("../sql_editor").then(async ({ createSqlEditor }) => {
      if (!live) return;
      const initial = recent[0] ?? "SELECT 1";
      created = createSqlEditor(host.current!, initial, () => runRef.current(), describeNamed, "SQL query");
      editor.current = created;
      setReady(true);
      created.focus();
      for (const t of await listTables()) schema[`${t.catalog}.${t.schema_name}.${t.table_name}`] = [];
      if (live) created.setSchema({ ...schema });
      describeNamed(initial);
    });
    return () => {
      live = false;
      clearTimeout(timer);
      created?.destroy();
    };
  }, []);

  const exportResult = async () => {
    const query = editor.current?.text().trim();
    if (!query) return;
    try {
      const response = await raw("/v1/sql", { method: "POST", body: { query }, headers: { accept: "text/csv" } });
      await download(response, "result.csv");
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section class="sql">
      <div class="page-header">
        <h1>SQL</h1>
        <span class="muted">Read-only; name tables as catalog.schema.table. Ctrl+Enter runs.</span>
      </div>
      <div class="editor" ref={host} />
      {!ready && <Loading what="the editor" />}
      <div class="actions">
        <button type="button" class="primary" onClick={run} disabled={running || !ready}>
          Run (Ctrl+Enter)
        </button>
        <button type="button" onClick={exportResult} disabled={!result}>
          Export CSV
        </button>
        {recent.length > 0 && (
          <label>
            Recent queries
            <select
              onChange={(e) => {
                const q = (e.target as HTMLSelectElement).value;
                if (q) editor.current?.setText(q);
              }}
            >
              <option value="">choose…</option>
              {recent.map((q) => (
                <option key={q} value={q}>
                  {q.length > 80 ? `${q.slice(0, 80)}…` : q}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      <ErrorBanner error={error} />
      {running && <Loading what="the result" />}
      {result && (
        <>
          <p class="muted" role="status" data-testid="sql-status">
            {result.rows.length} row{result.rows.length === 1 ? "" : "s"} in {result.runtime_seconds.toFixed(3)} s
          </p>
          <ResultTable columns={result.columns.map((c) => c.name)} rows={result.rows} />
        </>
      )}
    </section>
  );
}

