// Catalogs, schemas and tables of the organisation, with a search that narrows all three.
// Nested lists of links: every table is one Tab stop away, and screen readers announce the
// nesting (an ARIA tree would promise arrow-key navigation too).
import { useMemo, useState } from "preact/hooks";
import { href } from "../router";
import { listTables, useTablesVersion } from "../shell";
import { ErrorBanner, Loading, useAsync } from "../ui";

type Node = { name: string; schemas: { name: string; tables: string[] }[] };

export function Tree({ active }: { active: string[] }) {
  const version = useTablesVersion();
  const tables = useAsync(() => listTables(), [version]);
  const [search, setSearch] = useState("");

  const tree = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const catalogs = new Map<string, Map<string, string[]>>();
    for (const t of tables.data ?? []) {
      const name = `${t.catalog}.${t.schema_name}.${t.table_name}`.toLowerCase();
      if (needle && !name.includes(needle)) continue;
      const schemas = catalogs.get(t.catalog) ?? new Map<string, string[]>();
      catalogs.set(t.catalog, schemas);
      schemas.set(t.schema_name, [...(schemas.get(t.schema_name) ?? []), t.table_name]);
    }
    return [...catalogs.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, schemas]): Node => ({
        name,
        schemas: [...schemas.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([schema, names]) => ({ name: schema, tables: names.sort() })),
      }));
  }, [tables.data, search]);

  return (
    <section class="tree" aria-label="Tables">
      <h2 class="nav-title">Tables</h2>
      <input
        type="search"
        placeholder="Search tables"
        aria-label="Search tables"
        value={search}
        onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
      />
      <ErrorBanner error={tables.error} />
      {tables.loading && !tables.data && <Loading />}
      {tables.data && !tree.length && <p class="muted">{search ? "No table matches." : "No tables yet."}</p>}
      <ul aria-label="Catalogs">
        {tree.map((catalog) => (
          <li key={catalog.name}>
            <span class="tree-catalog">{catalog.name}</span>
            <ul>
              {catalog.schemas.map((schema) => (
                <li key={schema.name}>
                  <span class="tree-schema">{schema.name}</span>
                  <ul>
                    {schema.tables.map((table) => {
                      const current =
                        active[0] === catalog.name && active[1] === schema.name && active[2] === table;
                      return (
                        <li key={table}>
                          <a href={href(["t", catalog.name, schema.name, table])} aria-current={current ? "page" : undefined}>
                            {table}
                          </a>
                        </li>
                      );
                    })}
                  </ul>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </section>
  );
}
