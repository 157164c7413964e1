// The caller's API keys: create one (its scopes chosen among the caller's own: a key can
// never hold more than its creator), see the full key once, revoke for good.
import { useState } from "preact/hooks";
import { api } from "../../api";
import type { PageProps } from "../../shell";
import { Confirm, ErrorBanner, formatTime, Loading, Notice, ShownOnce, useAsync } from "../../ui";

type ApiKey = {
  id: string;
  name: string;
  key_prefix: string;
  scopes: string[];
  expires_at: string | null;
  last_used_at: string | null;
  created_at: string;
  is_revoked: boolean;
};

/** The server's `expires_in` values. */
const EXPIRIES = [
  { value: "never", label: "never" },
  { value: "7d", label: "in 7 days" },
  { value: "30d", label: "in 30 days" },
  { value: "90d", label: "in 90 days" },
  { value: "1y", label: "in 1 year" },
];

export function ApiKeysPage({ signed, can }: PageProps) {
  const keys = useAsync(() => api<{ api_keys: ApiKey[] }>("/v1/api-keys").then((r) => r.api_keys), []);
  const [created, setCreated] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");

  const revoke = async (key: ApiKey) => {
    setRevoking(null);
    setError(null);
    setNotice("");
    try {
      await api(`/v1/api-keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
      setNotice(`The key ${key.name} was revoked.`);
    } catch (e) {
      setError(e);
    }
    keys.reload();
  };

  return (
    <section>
      <div class="page-header">
        <h1>API keys</h1>
      </div>
      {created && <ShownOnce label="API key created." value={created} />}
      <ErrorBanner error={keys.error ?? error} />
      {notice && <Notice>{notice}</Notice>}
      {keys.loading && !keys.data ? (
        <Loading what="API keys" />
      ) : keys.data?.length === 0 ? (
        <p class="muted">You have no API keys.</p>
      ) : (
        <div class="table-scroll">
          <table class="grid">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Scopes</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
                {can("apikeys:revoke") && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {(keys.data ?? []).map((k) => {
                const status = keyStatus(k);
                return (
                  <tr key={k.id}>
                    <td>{k.name}</td>
                    <td>
                      <code>{k.key_prefix}</code>
                    </td>
                    <td>{k.scopes.join(", ")}</td>
                    <td>{k.expires_at ? formatTime(k.expires_at) : "never"}</td>
                    <td>{k.last_used_at ? formatTime(k.last_used_at) : "never"}</td>
                    <td>
                      <span class={status === "active" ? "badge ok" : "badge bad"}>{status}</span>
                    </td>
                    {can("apikeys:revoke") && (
                      <td>
                        {!k.is_revoked && (
                          <button type="button" class="danger" onClick={() => setRevoking(k)}>
                            Revoke
                          </button>
                        )}
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {/* The form comes after the list: its long list of checkboxes would push the list down. */}
      {can("apikeys:create") && (
        <CreateKey
          scopes={signed.me.auth.scopes}
          onCreated={(key) => {
            setCreated(key);
            setNotice("");
            keys.reload();
          }}
        />
      )}
      <Confirm
        title="Revoke API key"
        message={`The key ${revoking?.name ?? ""} (${revoking?.key_prefix ?? ""}…) will stop working for good.`}
        confirmLabel="Revoke"
        open={revoking !== null}
        onConfirm={() => revoking && revoke(revoking)}
        onCancel={() => setRevoking(null)}
      />
    </section>
  );
}

function keyStatus(key: ApiKey): "active" | "revoked" | "expired" {
  if (key.is_revoked) return "revoked";
  if (key.expires_at && new Date(key.expires_at).getTime() <= Date.now()) return "expired";
  return "active";
}

function CreateKey({ scopes, onCreated }: { scopes: string[]; onCreated: (key: string) => void }) {
  const [name, setName] = useState("");
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [expiresIn, setExpiresIn] = useState("90d");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const toggle = (scope: string, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(scope);
    else next.delete(scope);
    setChosen(next);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // Sent even when empty: left out, the server would grant every scope the caller holds.
      const body = { name, scopes: scopes.filter((s) => chosen.has(s)), expires_in: expiresIn };
      const answer = await api<{ key: string }>("/v1/api-keys", { method: "POST", body });
      setName("");
      setChosen(new Set());
      onCreated(answer.key);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="stack" onSubmit={submit} aria-label="Create an API key">
      <h2>New key</h2>
      <ErrorBanner error={error} />
      <label>
        Name
        <input required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <fieldset>
        <legend>Scopes</legend>
        <div class="actions">
          <button type="button" onClick={() => setChosen(new Set(scopes))}>
            Select all scopes
          </button>
          <button type="button" onClick={() => setChosen(new Set())}>
            Clear scopes
          </button>
        </div>
        {scopes.map((scope) => (
          <label key={scope}>
            <input
              type="checkbox"
              name="scope"
              value={scope}
              checked={chosen.has(scope)}
              onChange={(e) => toggle(scope, e.currentTarget.checked)}
            />{" "}
            {scope}
          </label>
        ))}
      </fieldset>
      <label>
        Expires
        <select value={expiresIn} onChange={(e) => setExpiresIn(e.currentTarget.value)}>
          {EXPIRIES.map((x) => (
            <option key={x.value} value={x.value}>
              {x.label}
            </option>
          ))}
        </select>
      </label>
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          Create key
        </button>
      </div>
    </form>
  );
}
