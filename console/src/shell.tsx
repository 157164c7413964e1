// The frame around every page: the organisation and the user, the table tree, the
// navigation (only what the caller's scopes allow), and the routed page.
import { useEffect, useMemo, useState } from "preact/hooks";
import type { Signed } from "./app";
import { api } from "./api";
import { href, useRoute } from "./router";
import { Can } from "./ui";
import { Tree } from "./pages/tree";
import { Home } from "./pages/home";
import { TablePage } from "./pages/table";
import { SqlPage } from "./pages/sql";
import { ImportPage } from "./pages/import";
import { JobsPage } from "./pages/jobs";
import { MembersPage } from "./pages/admin/members";
import { TeamsPage } from "./pages/admin/teams";
import { ApiKeysPage } from "./pages/admin/apikeys";
import { WebhooksPage } from "./pages/admin/webhooks";
import { AuditPage } from "./pages/admin/audit";
import { NewTablePage } from "./pages/newtable";

/** Pages a later capability adds (storage, clones, quality, matching, sharing) go here:
 * a path, a label, the scope that shows it, and the page. */
const PAGES: { path: string; label: string; scope?: string; group: "data" | "admin"; page: (p: PageProps) => any }[] = [
  { path: "sql", label: "SQL", scope: "tables:query", group: "data", page: SqlPage },
  { path: "import", label: "Import", scope: "tables:import", group: "data", page: ImportPage },
  { path: "jobs", label: "Jobs", scope: "tables:read", group: "data", page: JobsPage },
  { path: "members", label: "Members", scope: "org:read", group: "admin", page: MembersPage },
  { path: "teams", label: "Teams", scope: "org:read", group: "admin", page: TeamsPage },
  { path: "api-keys", label: "API keys", scope: "apikeys:read", group: "admin", page: ApiKeysPage },
  { path: "webhooks", label: "Webhooks", scope: "webhooks:read", group: "admin", page: WebhooksPage },
  { path: "audit", label: "Audit trail", scope: "audit:read", group: "admin", page: AuditPage },
];

export type PageProps = { signed: Signed; can: Can; query: URLSearchParams; path: string[] };

export function Shell({ signed, onSignOut }: { signed: Signed; onSignOut: () => void }) {
  const route = useRoute();
  const scopes = useMemo(() => new Set(signed.me.auth.scopes), [signed]);
  const can: Can = (scope) => scopes.has(scope);
  const props: PageProps = { signed, can, query: route.query, path: route.path };
  const [head, ...rest] = route.path;

  let page;
  if (head === "t" && rest.length >= 3) page = <TablePage {...props} />;
  else if (head === "new-table") page = <NewTablePage {...props} />;
  else {
    const found = PAGES.find((p) => p.path === head && (!p.scope || can(p.scope)));
    page = found ? <found.page {...props} /> : <Home {...props} />;
  }

  useEffect(() => {
    // Each view gets a title: screen readers announce it and tabs are told apart.
    document.title = head ? `${head === "t" ? rest.slice(0, 3).join(".") : head} · Lakeward` : "Lakeward";
  }, [route]);

  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="#/">
          Lakeward
        </a>
        <span class="org" data-testid="organisation">
          {signed.org.name}
        </span>
        <span class="spacer" />
        <span class="who">
          {signed.me.email} · <span data-testid="role">{signed.me.role}</span>
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <nav class="sidebar" aria-label="Console">
        <ul class="nav">
          {PAGES.filter((p) => p.group === "data" && (!p.scope || can(p.scope))).map((p) => (
            <NavLink key={p.path} to={p.path} label={p.label} active={head === p.path} />
          ))}
          {can("tables:create") && <NavLink to="new-table" label="New table" active={head === "new-table"} />}
        </ul>
        <Tree active={head === "t" ? rest.slice(0, 3) : []} />
        {PAGES.some((p) => p.group === "admin" && (!p.scope || can(p.scope))) && (
          <>
            <h2 class="nav-title">Administration</h2>
            <ul class="nav">
              {PAGES.filter((p) => p.group === "admin" && (!p.scope || can(p.scope))).map((p) => (
                <NavLink key={p.path} to={p.path} label={p.label} active={head === p.path} />
              ))}
            </ul>
          </>
        )}
      </nav>
      <main id="main" class="content" tabIndex={-1}>
        {page}
      </main>
    </div>
  );
}

function NavLink({ to, label, active }: { to: string; label: string; active: boolean }) {
  return (
    <li>
      <a href={href([to])} aria-current={active ? "page" : undefined}>
        {label}
      </a>
    </li>
  );
}

/** Everything the caller's organisation holds, for the tree and the SQL editor's completion. */
export async function listTables(): Promise<{ catalog: string; schema_name: string; table_name: string }[]> {
  const all = [];
  for (let offset = 0; ; ) {
    const page = await api(`/v1/tables?limit=500&offset=${offset}`);
    all.push(...page.tables);
    offset += page.tables.length;
    if (!page.tables.length || offset >= page.total) return all;
  }
}

/** Pages that change which tables exist tell the tree to load them again. */
const listeners = new Set<() => void>();
export function onTablesChanged(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
export function tablesChanged() {
  listeners.forEach((l) => l());
}

export function useTablesVersion(): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const unsubscribe = onTablesChanged(() => setVersion((v) => v + 1));
    return () => {
      unsubscribe();
    };
  }, []);
  return version;
}
