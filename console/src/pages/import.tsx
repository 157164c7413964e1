// Importing a file: for a new table, the inferred schema and the proposed domains, which
// the user adjusts; then the upload (with its progress), the import job followed live to
// its end, and its result or the rows at fault.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, followEvents, Job, jobEnded, jobPercent, session, TableName, tablePath } from "../api";
import { href } from "../router";
import { PageProps, tablesChanged } from "../shell";
import { ErrorBanner, formatBytes, ProgressBar } from "../ui";
import { COLUMN_TYPES, ensureNamespace } from "./newtable";

type Column = { name: string; type: string; nullable: boolean; key: boolean };
type Inferred = { columns: Column[]; domains: Record<string, string[]>; chosen: Set<string>; length: number };

export function ImportPage({ query, can }: PageProps) {
  const [name, setName] = useState<TableName>({
    catalog: query.get("catalog") ?? "main",
    schema: query.get("schema") ?? "default",
    table: query.get("table") ?? "",
  });
  const [file, setFile] = useState<File | null>(null);
  const [exists, setExists] = useState<boolean | null>(null);
  const [inferred, setInferred] = useState<Inferred | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [uploaded, setUploaded] = useState<number | null>(null);
  const [job, setJob] = useState<Job | null>(null);
  const [domainsApplied, setDomainsApplied] = useState<string[]>([]);
  const stop = useRef<AbortController | null>(null);
  useEffect(() => () => stop.current?.abort(), []);

  const csv = !!file && !/\.(parquet|arrows?)$/i.test(file.name);

  /** Whether the table exists decides what the import does: append, or create. */
  const inspect = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setInferred(null);
    setJob(null);
    try {
      const found = await api(tablePath(name)).then(
        () => true,
        (e) => {
          if (e instanceof ApiError && e.status === 404) return false;
          throw e;
        },
      );
      setExists(found);
      if (!found && csv) {
        const form = new FormData();
        form.append("file", file!);
        const answer = await api("/v1/tables/infer", { method: "POST", body: form });
        const domains: Record<string, string[]> = answer.fieldsWithDomains ?? {};
        setInferred({
          columns: answer.schema.fields.map((f: Column) => ({ ...f, nullable: true, key: false })),
          domains,
          chosen: new Set(Object.keys(domains)),
          length: answer.length,
        });
      }
    } catch (e) {
      setError(e);
    }
  };

  const start = async () => {
    setError(null);
    setJob(null);
    setUploaded(0);
    try {
      if (!exists) await ensureNamespace(name.catalog, name.schema);
      const form = new FormData();
      if (inferred) {
        form.append(
          "schema",
          JSON.stringify({
            columns: inferred.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable && !c.key })),
            primary_key: inferred.columns.filter((c) => c.key).map((c) => c.name),
          }),
        );
      }
      form.append("file", file!);
      const accepted = await upload(`${tablePath(name)}/import`, form, setUploaded);
      setJob(accepted);
      stop.current = new AbortController();
      let last: Job = accepted;
      await followEvents(`/v1/jobs/${accepted.id}/events`, (_, data) => setJob((last = data as Job)), stop.current.signal);
      if (last.status === "succeeded") {
        tablesChanged();
        if (inferred) setDomainsApplied(await applyDomains(name, inferred));
      }
    } catch (e) {
      if (!(e instanceof DOMException && e.name === "AbortError")) setError(e);
    }
  };

  const cancel = async () => {
    if (job) await api(`/v1/jobs/${job.id}`, { method: "DELETE" }).catch(setError);
  };

  const percent = job ? jobPercent(job) : null;
  const faults = job && typeof job.error === "object" && job.error?.details ? job.error.details : [];

  return (
    <section class="import">
      <h1>Import a file</h1>
      <form class="stack" onSubmit={inspect} aria-label="File and table">
        <label>
          File (CSV, Parquet or Arrow IPC stream)
          <input
            type="file"
            required
            accept=".csv,.tsv,.txt,.parquet,.arrow,.arrows"
            onChange={(e) => {
              setFile((e.target as HTMLInputElement).files?.[0] ?? null);
              setInferred(null);
              setExists(null);
              setJob(null);
            }}
          />
        </label>
        {file && <p class="muted">{`${file.name}, ${formatBytes(file.size)}`}</p>}
        <div class="form-inline">
          {(["catalog", "schema", "table"] as const).map((part) => (
            <label key={part}>
              {`Target ${part}`}
              <input
                required
                pattern="[A-Za-z_][A-Za-z0-9_]*"
                value={name[part]}
                onInput={(e) => {
                  setName({ ...name, [part]: (e.target as HTMLInputElement).value });
                  setExists(null);
                  setInferred(null);
                }}
              />
            </label>
          ))}
        </div>
        <button type="submit">Inspect</button>
      </form>
      <ErrorBanner error={error} />
      {exists === true && <p>The table exists: the file's rows are appended to it.</p>}
      {exists === false && !can("tables:create") && <p>The table does not exist, and you may not create tables.</p>}
      {inferred && <SchemaEditor inferred={inferred} onChange={setInferred} />}
      {exists !== null && (exists || can("tables:create")) && (
        <div class="actions">
          <button type="button" class="primary" onClick={start} disabled={!!job && !jobEnded(job)}>
            Start import
          </button>
          {job && !jobEnded(job) && (
            <button type="button" class="danger" onClick={cancel}>
              Cancel import
            </button>
          )}
        </div>
      )}
      {uploaded !== null && file && !job && (
        <ProgressBar percent={Math.floor((100 * uploaded) / Math.max(1, file.size))} label="Upload" />
      )}
      {job && (
        <div class="job" data-testid="import-job">
          <p>
            Job <code>{job.id}</code>: <span data-testid="job-status">{job.status}</span>
            {` · ${job.progress.rows_written.toLocaleString()} rows written`}
          </p>
          <ProgressBar percent={percent} label="Import progress" />
          {job.status === "succeeded" && (
            <p role="status">
              Imported into <a href={href(["t", name.catalog, name.schema, name.table])}>{`${name.catalog}.${name.schema}.${name.table}`}</a>
              {job.version !== null ? `, version ${job.version}` : ""}.
              {domainsApplied.length > 0 && ` Domains set on ${domainsApplied.join(", ")}.`}
            </p>
          )}
          {job.status === "failed" && (
            <div class="banner error" role="alert">
              {typeof job.error === "string" ? job.error : (job.error?.message ?? "The import failed.")}
              {faults.length > 0 && (
                <ul>
                  {faults.map((f, i) => (
                    <li key={i}>
                      {f.field}: {f.message}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
        </div>
      )}
    </section>
  );
}

function SchemaEditor({ inferred, onChange }: { inferred: Inferred; onChange: (i: Inferred) => void }) {
  const set = (i: number, patch: Partial<Column>) =>
    onChange({ ...inferred, columns: inferred.columns.map((c, j) => (i === j ? { ...c, ...patch } : c)) });
  return (
    <div>
      <h2>Inferred schema ({inferred.length.toLocaleString()} rows)</h2>
      <table class="grid">
        <thead>
          <tr>
            <th scope="col">Column</th>
            <th scope="col">Type</th>
            <th scope="col">Nullable</th>
            <th scope="col">Primary key</th>
            <th scope="col">Proposed domain</th>
          </tr>
        </thead>
        <tbody>
          {inferred.columns.map((c, i) => {
            const values = inferred.domains[c.name];
            return (
              <tr key={i}>
                <td>
                  <input aria-label={`Name of column ${i + 1}`} value={c.name} onInput={(e) => set(i, { name: (e.target as HTMLInputElement).value })} />
                </td>
                <td>
                  <select aria-label={`Type of ${c.name}`} value={c.type} onChange={(e) => set(i, { type: (e.target as HTMLSelectElement).value })}>
                    {(COLUMN_TYPES.includes(c.type) ? COLUMN_TYPES : [c.type, ...COLUMN_TYPES]).map((t) => (
                      <option key={t}>{t}</option>
                    ))}
                  </select>
                </td>
                <td>
                  <input type="checkbox" aria-label={`${c.name} nullable`} checked={c.nullable && !c.key} disabled={c.key} onChange={(e) => set(i, { nullable: (e.target as HTMLInputElement).checked })} />
                </td>
                <td>
                  <input type="checkbox" aria-label={`${c.name} primary key`} checked={c.key} onChange={(e) => set(i, { key: (e.target as HTMLInputElement).checked })} />
                </td>
                <td>
                  {values ? (
                    <label>
                      <input
                        type="checkbox"
                        checked={inferred.chosen.has(c.name)}
                        onChange={(e) => {
                          const chosen = new Set(inferred.chosen);
                          (e.target as HTMLInputElement).checked ? chosen.add(c.name) : chosen.delete(c.name);
                          onChange({ ...inferred, chosen });
                        }}
                      />
                      {` fixed: ${values.join(", ")}`}
                    </label>
                  ) : (
                    <span class="muted">none</span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** The chosen proposed domains, set once the rows are in (each its own audited commit). */
async function applyDomains(name: TableName, inferred: Inferred): Promise<string[]> {
  const applied = [];
  for (const column of inferred.chosen) {
    const values = inferred.domains[column];
    await api(`${tablePath(name)}/columns/${encodeURIComponent(column)}/domain/fixed`, {
      method: "PUT",
      body: { allowed_values: values },
    });
    applied.push(column);
  }
  return applied;
}

/** A multipart upload with its progress (fetch cannot report an upload's progress). */
function upload(path: string, form: FormData, onProgress: (sent: number) => void): Promise<Job> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    const token = session.token();
    if (token) xhr.setRequestHeader("authorization", `Bearer ${token}`);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      let body: any = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = { message: `${xhr.status} ${xhr.statusText}` };
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as Job);
      else reject(new ApiError(xhr.status, body));
    };
    xhr.onerror = () => reject(new Error("The upload failed: the server could not be reached."));
    xhr.send(form);
  });
}
