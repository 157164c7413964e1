// The organisation's webhooks: register a URL for chosen events (its signing secret is
// answered once, at creation), send a test ping, see the deliveries, remove one.
import { useState } from "preact/hooks";
import { api } from "../../api";
import type { PageProps } from "../../shell";
import { Confirm, ErrorBanner, formatTime, Loading, Notice, ShownOnce, useAsync } from "../../ui";

type Webhook = {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  active: boolean;
  created_at: string;
  secret?: string;
};

type Delivery = {
  id: string;
  event: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  response_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
};

type EventDescription = { name: string; description: string };

const hookPath = (hook: Webhook) => `/v1/webhooks/${encodeURIComponent(hook.id)}`;

export function WebhooksPage({ can }: PageProps) {
  const hooks = useAsync(() => api<Webhook[]>("/v1/webhooks"), []);
  const write = can("webhooks:write");
  const [created, setCreated] = useState<Webhook | null>(null);
  const [shown, setShown] = useState<Webhook | null>(null);
  const [deleting, setDeleting] = useState<Webhook | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");
  // Bumped after a test so an open deliveries list shows the new one.
  const [deliveriesVersion, setDeliveriesVersion] = useState(0);

  const act = async (change: () => Promise<string>) => {
    setError(null);
    setNotice("");
    try {
      setNotice(await change());
    } catch (e) {
      setError(e);
    }
  };

  const test = (hook: Webhook) =>
    act(async () => {
      const d = await api<Delivery>(`${hookPath(hook)}/test`, { method: "POST" });
      setDeliveriesVersion((v) => v + 1);
      const code = d.response_code != null ? ` (HTTP ${d.response_code})` : "";
      return `Test sent to ${hook.url}: ${d.status}${code}${d.last_error ? `: ${d.last_error}` : ""}.`;
    });

  const remove = (hook: Webhook) => {
    setDeleting(null);
    act(async () => {
      await api(hookPath(hook), { method: "DELETE" });
      if (shown?.id === hook.id) setShown(null);
      hooks.reload();
      return `The webhook to ${hook.url} was deleted.`;
    });
  };

  return (
    <section>
      <div class="page-header">
        <h1>Webhooks</h1>
      </div>
      {created?.secret && (
        <ShownOnce label={`Webhook to ${created.url} created; this is its signing secret.`} value={created.secret} />
      )}
      <ErrorBanner error={hooks.error ?? error} />
      {notice && <Notice>{notice}</Notice>}
      {hooks.loading && !hooks.data ? (
        <Loading what="webhooks" />
      ) : hooks.data?.length === 0 ? (
        <p class="muted">No webhooks yet.</p>
      ) : (
        <div class="table-scroll">
          <table class="grid">
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Events</th>
                <th scope="col">Description</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {(hooks.data ?? []).map((h) => (
                <tr key={h.id}>
                  <td>{h.url}</td>
                  <td>{h.events.join(", ")}</td>
                  <td>{h.description ?? ""}</td>
                  <td>
                    <span class={h.active ? "badge ok" : "badge"}>{h.active ? "active" : "inactive"}</span>
                  </td>
                  <td>{formatTime(h.created_at)}</td>
                  <td>
                    <div class="actions">
                      {write && (
                        <button type="button" onClick={() => test(h)}>
                          Send test
                        </button>
                      )}
                      <button
                        type="button"
                        aria-pressed={shown?.id === h.id}
                        onClick={() => setShown(shown?.id === h.id ? null : h)}
                      >
                        Deliveries
                      </button>
                      {write && (
                        <button type="button" class="danger" onClick={() => setDeleting(h)}>
                          Delete
                        </button>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {shown && <Deliveries hook={shown} version={deliveriesVersion} onClose={() => setShown(null)} />}
      {/* The form comes after the list: its long list of checkboxes would push the list down. */}
      {write && (
        <CreateWebhook
          onCreated={(hook) => {
            setCreated(hook);
            setNotice("");
            hooks.reload();
          }}
        />
      )}
      <Confirm
        title="Delete webhook"
        message={`The webhook to ${deleting?.url ?? ""} and its delivery records will be removed.`}
        confirmLabel="Delete"
        open={deleting !== null}
        onConfirm={() => deleting && remove(deleting)}
        onCancel={() => setDeleting(null)}
      />
    </section>
  );
}

function Deliveries({ hook, version, onClose }: { hook: Webhook; version: number; onClose: () => void }) {
  const deliveries = useAsync(() => api<Delivery[]>(`${hookPath(hook)}/deliveries?limit=100`), [hook.id, version]);
  return (
    <section aria-label={`Deliveries to ${hook.url}`}>
      <div class="page-header">
        <h2>Deliveries to {hook.url}</h2>
        <div class="actions">
          <button type="button" onClick={deliveries.reload}>
            Refresh deliveries
          </button>
          <button type="button" onClick={onClose}>
            Close deliveries
          </button>
        </div>
      </div>
      <ErrorBanner error={deliveries.error} />
      {deliveries.loading && !deliveries.data ? (
        <Loading what="deliveries" />
      ) : deliveries.data?.length === 0 ? (
        <p class="muted">Nothing was sent to this webhook yet.</p>
      ) : (
        <div class="table-scroll">
          <table class="grid">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Response code</th>
                <th scope="col">Last error</th>
              </tr>
            </thead>
            <tbody>
              {(deliveries.data ?? []).map((d) => (
                <tr key={d.id}>
                  <td>{formatTime(d.created_at)}</td>
                  <td>{d.event}</td>
                  <td>
                    <span class={d.status === "delivered" ? "badge ok" : d.status === "failed" ? "badge bad" : "badge"}>
                      {d.status}
                    </span>
                  </td>
                  <td>{d.attempts}</td>
                  <td>{d.response_code ?? ""}</td>
                  <td>{d.last_error ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function CreateWebhook({ onCreated }: { onCreated: (hook: Webhook) => void }) {
  const events = useAsync(() => api<EventDescription[]>("/v1/webhooks/events"), []);
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [all, setAll] = useState(false);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const toggle = (name: string, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(name);
    else next.delete(name);
    setChosen(next);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = {
        url,
        // `*` also takes the events added in later versions.
        events: all ? ["*"] : (events.data ?? []).map((e) => e.name).filter((n) => chosen.has(n)),
        ...(description ? { description } : {}),
      };
      onCreated(await api<Webhook>("/v1/webhooks", { method: "POST", body }));
      setUrl("");
      setDescription("");
      setAll(false);
      setChosen(new Set());
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="stack" onSubmit={submit} aria-label="Create a webhook">
      <h2>New webhook</h2>
      <ErrorBanner error={error ?? events.error} />
      <label>
        URL
        <input
          type="url"
          required
          placeholder="https://example.com/hooks/lakeward"
          value={url}
          onInput={(e) => setUrl(e.currentTarget.value)}
        />
      </label>
      <label>
        Description
        <input value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      </label>
      <fieldset>
        <legend>Events</legend>
        <label>
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} /> All events
        </label>
        {events.loading && !events.data && <Loading what="events" />}
        {(events.data ?? []).map((e) => (
          // The description describes the checkbox; its name stays the event's alone.
          <div key={e.name}>
            <label>
              <input
                type="checkbox"
                value={e.name}
                disabled={all}
                checked={all || chosen.has(e.name)}
                aria-describedby={`event-${e.name}`}
                onChange={(ev) => toggle(e.name, ev.currentTarget.checked)}
              />{" "}
              {e.name}
            </label>{" "}
            <span class="muted" id={`event-${e.name}`}>
              {e.description}
            </span>
          </div>
        ))}
      </fieldset>
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          Create webhook
        </button>
      </div>
    </form>
  );
}
