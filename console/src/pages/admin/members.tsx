// The organisation's members: invite (the server sends no email, so the one-time token is
// shown here to hand over), change roles, deactivate. The server keeps the last active
// admin (409), and the console just shows its refusal.
import { useState } from "preact/hooks";
import { api } from "../../api";
import type { PageProps } from "../../shell";
import { Confirm, ErrorBanner, formatTime, Loading, Notice, ShownOnce, useAction, useAsync } from "../../ui";

export const ROLES = ["viewer", "editor", "builder", "admin"];

export type Member = {
  id: string;
  email: string;
  role: string;
  status: "invited" | "active" | "deactivated";
  created_at: string;
  last_sign_in_at: string | null;
};

const STATUS_BADGE: Record<string, string> = { active: "badge ok", invited: "badge", deactivated: "badge bad" };

type Invited = { user: Member; invite_token: string; expires_at: string };

export function MembersPage({ signed, can }: PageProps) {
  const org = `/v1/organisations/${encodeURIComponent(signed.org.id)}`;
  const members = useAsync(() => api<Member[]>(`${org}/users`), [org]);
  const { error, setError, notice, setNotice, run } = useAction(members.reload);
  const manage = can("org:update");
  const [invited, setInvited] = useState<Invited | null>(null);
  const [deactivating, setDeactivating] = useState<Member | null>(null);


  const changeRole = (member: Member, role: string) =>
    run(async () => {
      await api(`${org}/users/${encodeURIComponent(member.id)}/role`, { method: "PUT", body: { role } });
      return `${member.email} is now ${role}.`;
    });

  const deactivate = (member: Member) => {
    setDeactivating(null);
    run(async () => {
      await api(`${org}/users/${encodeURIComponent(member.id)}/deactivate`, { method: "DELETE" });
      return `${member.email} was deactivated.`;
    });
  };

  return (
    <section>
      <div class="page-header">
        <h1>Members</h1>
      </div>
      {manage && (
        <InviteForm
          org={org}
          onInvited={(i) => {
            setInvited(i);
            setNotice("");
            setError(null);
            members.reload();
          }}
        />
      )}
      {invited && (
        <>
          <ShownOnce label={`Invitation for ${invited.user.email} created.`} value={invited.invite_token} />
          <p class="muted">
            Hand this token to the invitee; it is accepted with POST /v1/auth/accept-invite until{" "}
            {formatTime(invited.expires_at)}.
          </p>
        </>
      )}
      <ErrorBanner error={members.error ?? error} />
      {notice && <Notice>{notice}</Notice>}
      {members.loading && !members.data ? (
        <Loading what="members" />
      ) : (
        <div class="table-scroll">
          <table class="grid">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Last sign-in</th>
                {manage && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {(members.data ?? []).map((m) => (
                <tr key={m.id}>
                  <td>{m.email}</td>
                  <td>
                    {manage && m.status !== "deactivated" ? (
                      <select
                        aria-label={`Role of ${m.email}`}
                        value={m.role}
                        onChange={(e) => changeRole(m, e.currentTarget.value)}
                      >
                        {ROLES.map((r) => (
                          <option key={r} value={r}>
                            {r}
                          </option>
                        ))}
                      </select>
                    ) : (
                      m.role
                    )}
                  </td>
                  <td>
                    <span class={STATUS_BADGE[m.status] ?? "badge"}>{m.status}</span>
                  </td>
                  <td>{formatTime(m.last_sign_in_at)}</td>
                  {manage && (
                    <td>
                      {m.status !== "deactivated" && (
                        <button type="button" class="danger" onClick={() => setDeactivating(m)}>
                          Deactivate
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Confirm
        title="Deactivate member"
        message={`${deactivating?.email ?? ""} can no longer sign in; their sessions and API keys stop working.`}
        confirmLabel="Deactivate"
        open={deactivating !== null}
        onConfirm={() => deactivating && deactivate(deactivating)}
        onCancel={() => setDeactivating(null)}
      />
    </section>
  );
}

function InviteForm({ org, onInvited }: { org: string; onInvited: (invited: Invited) => void }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("viewer");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onInvited(await api<Invited>(`${org}/invite`, { method: "POST", body: { email, role } }));
      setEmail("");
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="form-inline" onSubmit={submit} aria-label="Invite a member">
      <label>
        Email
        <input type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      </label>
      <label>
        Role
        {/* Named "Role" exactly: the label's text would also take in the chosen option. */}
        <select aria-label="Role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" class="primary" disabled={busy}>
        Invite
      </button>
      <ErrorBanner error={error} />
    </form>
  );
}
