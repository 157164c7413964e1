// Teams of the organisation's members, which grants can name. Every member sees them;
// admins create, rename, fill and delete them.
import { useState } from "preact/hooks";
import { api } from "../../api";
import type { PageProps } from "../../shell";
import { Confirm, ErrorBanner, Loading, Notice, useAction, useAsync } from "../../ui";
import type { Member } from "./members";

export type Team = { id: string; name: string; description: string | null; member_count: number; members?: string[] };

export function TeamsPage({ signed, can }: PageProps) {
  const manage = can("org:update");
  const teams = useAsync(() => api<Team[]>("/v1/teams"), []);
  const { error, setError, notice, run } = useAction(teams.reload);
  const members = useAsync(() => api<Member[]>(`/v1/organisations/${encodeURIComponent(signed.org.id)}/users`), []);
  const [open, setOpen] = useState<Team | null>(null);
  const [deleting, setDeleting] = useState<Team | null>(null);
  const email = (id: string) => members.data?.find((m) => m.id === id)?.email ?? id;


  const show = async (team: Team) => setOpen(await api<Team>(`/v1/teams/${team.id}`).catch((e) => (setError(e), null)));

  return (
    <section>
      <div class="page-header">
        <h1>Teams</h1>
      </div>
      <ErrorBanner error={error ?? teams.error} />
      {notice && <Notice>{notice}</Notice>}
      {manage && (
        <form
          class="form-inline"
          aria-label="New team"
          onSubmit={(e) => {
            e.preventDefault();
            const form = e.currentTarget as HTMLFormElement;
            const data = new FormData(form);
            const description = String(data.get("description") ?? "").trim();
            run(async () => {
              const team = await api<Team>("/v1/teams", {
                method: "POST",
                body: { name: String(data.get("name")), ...(description ? { description } : {}) },
              });
              form.reset();
              return `Team ${team.name} created.`;
            });
          }}
        >
          <label>
            Team name
            <input name="name" required maxLength={100} />
          </label>
          <label>
            Description
            <input name="description" />
          </label>
          <button type="submit" class="primary">
            Create team
          </button>
        </form>
      )}
      {teams.loading && !teams.data && <Loading what="teams" />}
      {teams.data?.length === 0 && <p class="muted">No teams yet.</p>}
      {!!teams.data?.length && (
        <table class="grid" aria-label="Teams">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Description</th>
              <th scope="col">Members</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {teams.data.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td>{t.description ?? ""}</td>
                <td>{t.member_count}</td>
                <td class="actions">
                  <button type="button" onClick={() => show(t)} aria-label={`Members of ${t.name}`}>
                    Members
                  </button>
                  {manage && (
                    <button type="button" class="danger" onClick={() => setDeleting(t)} aria-label={`Delete team ${t.name}`}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open && (
        <section aria-label={`Members of ${open.name}`}>
          <h2>Members of {open.name}</h2>
          <ul>
            {(open.members ?? []).map((id) => (
              <li key={id}>
                {email(id)}{" "}
                {manage && (
                  <button
                    type="button"
                    aria-label={`Remove ${email(id)} from ${open.name}`}
                    onClick={() =>
                      run(async () => {
                        setOpen(await api<Team>(`/v1/teams/${open.id}/members/${id}`, { method: "DELETE" }));
                        return `${email(id)} left ${open.name}.`;
                      })
                    }
                  >
                    Remove
                  </button>
                )}
              </li>
            ))}
          </ul>
          {open.members?.length === 0 && <p class="muted">No members yet.</p>}
          {manage && members.data && (
            <form
              class="form-inline"
              aria-label={`Add a member to ${open.name}`}
              onSubmit={(e) => {
                e.preventDefault();
                const user_id = String(new FormData(e.currentTarget as HTMLFormElement).get("user"));
                run(async () => {
                  setOpen(await api<Team>(`/v1/teams/${open.id}/members`, { method: "POST", body: { user_id } }));
                  return `${email(user_id)} joined ${open.name}.`;
                });
              }}
            >
              <label>
                Member
                <select name="user">
                  {members.data
                    .filter((m) => !open.members?.includes(m.id))
                    .map((m) => (
                      <option key={m.id} value={m.id}>
                        {m.email}
                      </option>
                    ))}
                </select>
              </label>
              <button type="submit">Add to team</button>
            </form>
          )}
        </section>
      )}
      <Confirm
        open={!!deleting}
        title="Delete team"
        message={`Delete team ${deleting?.name}? Its memberships and every grant naming it go with it.`}
        confirmLabel="Delete"
        onCancel={() => setDeleting(null)}
        onConfirm={() => {
          const team = deleting!;
          setDeleting(null);
          if (open?.id === team.id) setOpen(null);
          run(async () => {
            await api(`/v1/teams/${team.id}`, { method: "DELETE" });
            return `Team ${team.name} deleted.`;
          });
        }}
      />
    </section>
  );
}
