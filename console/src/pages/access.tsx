// Who may do more than their role on a table: the grants that hold for it (its own, its
// schema's, its catalog's), and, for admins, granting and revoking. The server decides;
// a grant never gives more than the granter holds.
import { api, TableName } from "../api";
import { Can, ErrorBanner, Loading, Notice, useAction, useAsync } from "../ui";
import type { Member } from "./admin/members";
import type { Team } from "./admin/teams";

const PRIVILEGES = ["read", "query", "insert", "update", "delete", "modify", "manage"];

type Grant = {
  id: string;
  on: { type: string; name: string };
  grantee: { type: "user" | "team"; id: string };
  privilege: string;
};

export function Access({ name, can, orgId }: { name: TableName; can: Can; orgId: string }) {
  const full = `${name.catalog}.${name.schema}.${name.table}`;
  const grants = useAsync(
    () => api<{ grants: Grant[] }>(`/v1/grants?on_type=table&on=${encodeURIComponent(full)}`).then((g) => g.grants),
    [full],
  );
  const { error, notice, run } = useAction(grants.reload);
  const teams = useAsync(() => api<Team[]>("/v1/teams"), []);
  const members = useAsync(() => api<Member[]>(`/v1/organisations/${encodeURIComponent(orgId)}/users`), [orgId]);
  const manage = can("org:update");

  const who = (g: Grant["grantee"]) =>
    g.type === "team"
      ? `team ${teams.data?.find((t) => t.id === g.id)?.name ?? g.id}`
      : (members.data?.find((m) => m.id === g.id)?.email ?? g.id);


  const objects = [
    { type: "table", name: full },
    { type: "schema", name: `${name.catalog}.${name.schema}` },
    { type: "catalog", name: name.catalog },
  ];

  return (
    <div>
      <p class="muted">
        Members may do what their role allows everywhere, and what these grants add here. Grants on the schema or the
        catalog hold for this table too.
      </p>
      <ErrorBanner error={error ?? grants.error} />
      {notice && <Notice>{notice}</Notice>}
      {grants.loading && !grants.data && <Loading what="grants" />}
      {grants.data?.length === 0 && <p class="muted">No grants hold for this table.</p>}
      {!!grants.data?.length && (
        <table class="grid" aria-label="Grants">
          <thead>
            <tr>
              <th scope="col">On</th>
              <th scope="col">To</th>
              <th scope="col">Privilege</th>
              {manage && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {grants.data.map((g) => (
              <tr key={g.id}>
                <td>{`${g.on.type} ${g.on.name}`}</td>
                <td>{who(g.grantee)}</td>
                <td>{g.privilege}</td>
                {manage && (
                  <td>
                    <button
                      type="button"
                      class="danger"
                      aria-label={`Revoke ${g.privilege} of ${who(g.grantee)} on ${g.on.name}`}
                      onClick={() =>
                        run(async () => {
                          await api(`/v1/grants/${g.id}`, { method: "DELETE" });
                          return `Revoked ${g.privilege} of ${who(g.grantee)} on ${g.on.name}.`;
                        })
                      }
                    >
                      Revoke
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {manage && (
        <form
          class="stack"
          aria-label="Grant privileges"
          onSubmit={(e) => {
            e.preventDefault();
            const data = new FormData(e.currentTarget as HTMLFormElement);
            const [type, id] = String(data.get("grantee")).split(":");
            const on = objects[Number(data.get("on"))];
            const privileges = data.getAll("privilege").map(String);
            run(async () => {
              await api("/v1/grants", { method: "POST", body: { on, grantee: { type, id }, privileges } });
              return `Granted ${privileges.join(", ")} on ${on.name}.`;
            });
          }}
        >
          <h2>Grant privileges</h2>
          <label>
            On
            <select name="on" aria-label="Grant on">
              {objects.map((o, i) => (
                <option key={o.name} value={i}>{`${o.type} ${o.name}`}</option>
              ))}
            </select>
          </label>
          <label>
            To
            <select name="grantee" required aria-label="Grant to">
              {(teams.data ?? []).map((t) => (
                <option key={t.id} value={`team:${t.id}`}>{`team ${t.name}`}</option>
              ))}
              {(members.data ?? []).map((m) => (
                <option key={m.id} value={`user:${m.id}`}>
                  {m.email}
                </option>
              ))}
            </select>
          </label>
          <fieldset>
            <legend>Privileges</legend>
            {PRIVILEGES.map((p) => (
              <label key={p}>
                <input type="checkbox" name="privilege" value={p} />
                {p}
              </label>
            ))}
          </fieldset>
          <button type="submit" class="primary">
            Grant
          </button>
        </form>
      )}
    </div>
  );
}
