// A table: its rows (the grid), its definition, its history. `?version=N` views an
// earlier state, read-only.
import { api, TableMeta, TableName, tablePath } from "../api";
import { href } from "../router";
import type { PageProps } from "../shell";
import { Can, ErrorBanner, formatBytes, Loading, useAsync } from "../ui";
import { Grid } from "./grid";
import { Definition } from "./definition";
import { History } from "./history";
import { Access } from "./access";

/** The privilege on a table that stands for a scope: on a table, grants may allow more
 * than the role, and the table's description says what the caller holds there. */
const PRIVILEGE_OF: Record<string, string> = {
  "tables:read": "read",
  "tables:query": "query",
  "rows:insert": "insert",
  "tables:import": "insert",
  "rows:update": "update",
  "rows:delete": "delete",
  "tables:modify": "modify",
  "domains:write": "modify",
};

function onTable(can: Can, meta: TableMeta | undefined): Can {
  return (scope) => {
    const privilege = PRIVILEGE_OF[scope];
    return privilege && meta ? meta.privileges.includes(privilege) : can(scope);
  };
}

const TABS = [
  { path: "", label: "Rows" },
  { path: "definition", label: "Definition" },
  { path: "history", label: "History" },
  { path: "access", label: "Access" },
];

export function TablePage(props: PageProps) {
  const [, catalog, schema, table, tab = ""] = props.path;
  const name: TableName = { catalog, schema, table };
  const version = props.query.get("version") ?? undefined;
  const meta = useAsync<TableMeta>(
    (signal) => api(`${tablePath(name)}${version ? `?version=${encodeURIComponent(version)}` : ""}`, { signal }),
    [catalog, schema, table, version],
  );

  const can = onTable(props.can, meta.data);

  return (
    <section>
      <div class="page-header">
        <h1>
          {catalog}.{schema}.{table}
        </h1>
        {meta.data && (
          <span class="muted">
            version {meta.data.version} · {meta.data.num_rows.toLocaleString()} rows · {formatBytes(meta.data.file_size)}
          </span>
        )}
      </div>
      {version && (
        <div class="banner info" role="status">
          Viewing version {version}, read-only. <a href={href(["t", catalog, schema, table, tab].filter(Boolean))}>Back to the latest version</a>
        </div>
      )}
      {meta.data?.description && <p>{meta.data.description}</p>}
      <nav class="tabs" aria-label="Table views">
        {TABS.map((t) => (
          <a
            key={t.path}
            href={href(["t", catalog, schema, table, t.path].filter(Boolean), { version })}
            aria-current={tab === t.path ? "page" : undefined}
          >
            {t.label}
          </a>
        ))}
      </nav>
      <ErrorBanner error={meta.error} />
      {meta.loading && !meta.data && <Loading what="the table" />}
      {meta.data && tab === "" && (
        <Grid name={name} meta={meta.data} can={can} version={version} query={props.query} onCommitted={meta.reload} />
      )}
      {meta.data && tab === "definition" && (
        <Definition name={name} meta={meta.data} can={version ? () => false : can} onChanged={meta.reload} />
      )}
      {meta.data && tab === "history" && <History name={name} can={can} onRolledBack={meta.reload} />}
      {meta.data && tab === "access" && <Access name={name} can={props.can} orgId={props.signed.org.id} />}
    </section>
  );
}
