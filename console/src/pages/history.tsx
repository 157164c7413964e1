// The commit timeline: who did what at which version; any version can be viewed, and the
// table rolled back to it (a new commit restoring that state) after a confirmation.
import { useState } from "preact/hooks";
import { api, TableName, tablePath } from "../api";
import { href } from "../router";
import { Can, Confirm, ErrorBanner, formatTime, Loading, Notice, useAsync } from "../ui";

type Commit = {
  version: number;
  timestamp: number;
  userName?: string | null;
  userId?: string | null;
  operation: string;
  operationParameters?: Record<string, unknown>;
  info?: { operationMetrics?: Record<string, unknown> };
};

export function History({ name, can, onRolledBack }: { name: TableName; can: Can; onRolledBack: () => void }) {
  const history = useAsync<Commit[]>((signal) => api(`${tablePath(name)}/history`, { signal }), [name.catalog, name.schema, name.table]);
  const [target, setTarget] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const latest = history.data?.[0]?.version;

  const rollback = async () => {
    const version = target!;
    setTarget(null);
    setError(null);
    try {
      const answer = await api(`${tablePath(name)}/rollback/${version}`, { method: "PUT" });
      setNotice(`Rolled back to version ${answer.restored_version}: the table is now at version ${answer.version}.`);
      history.reload();
      onRolledBack();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <div>
      {notice && <Notice>{notice}</Notice>}
      <ErrorBanner error={error ?? history.error} />
      {history.loading && !history.data && <Loading what="history" />}
      <table class="grid" aria-label="History">
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Operation</th>
            <th scope="col">Details</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {(history.data ?? []).map((c) => (
            <tr key={c.version}>
              <td>{c.version}</td>
              <td>{formatTime(c.timestamp)}</td>
              <td>{c.userName ?? c.userId ?? ""}</td>
              <td>{c.operation}</td>
              <td class="details">{summary(c)}</td>
              <td class="actions">
                <a href={href(["t", name.catalog, name.schema, name.table], { version: c.version })}>View</a>
                {can("tables:modify") && c.version !== latest && (
                  <button type="button" onClick={() => setTarget(c.version)} aria-label={`Roll back to version ${c.version}`}>
                    Roll back
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Confirm
        open={target !== null}
        title="Roll back"
        message={`Restore the table as it was at version ${target}? This commits a new version; nothing is lost from history.`}
        confirmLabel="Roll back"
        onConfirm={rollback}
        onCancel={() => setTarget(null)}
      />
    </div>
  );
}

function summary(c: Commit): string {
  const m = c.info?.operationMetrics ?? {};
  const parts = [];
  for (const k of ["num_added_rows", "num_updated_rows", "num_deleted_rows", "num_copied_rows"]) {
    if (typeof m[k] === "number" && m[k]) parts.push(`${k.replace("num_", "").replace("_", " ")}: ${m[k]}`);
  }
  const predicate = c.operationParameters?.predicate;
  if (typeof predicate === "string") parts.push(`where ${predicate}`);
  return parts.join(", ");
}
