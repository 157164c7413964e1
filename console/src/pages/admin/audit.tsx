// The organisation's audit trail, newest first. The filters and the page live in the route
// (`#/audit?action=apikey.*&offset=50`): a filtered view is bookmarkable and survives a
// reload. Dates are days in the browser's time zone, sent as RFC 3339 instants.
import { api } from "../../api";
import { href, navigate } from "../../router";
import type { PageProps } from "../../shell";
import { ErrorBanner, formatTime, Loading, useAsync } from "../../ui";
import type { Member } from "./members";

type AuditEvent = {
  id: string;
  actor_type: string;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  client_ip: string | null;
  details: unknown;
  created_at: string;
};

type AuditPage = { events: AuditEvent[]; total: number; limit: number; offset: number };

const LIMIT = 50;
/** The route's filter parameters, as the form names them. */
const FILTERS = ["action", "actor", "target_type", "target_id", "from", "to"] as const;

/** Midnight starting `day` (YYYY-MM-DD) in the browser's time zone, `days` later. */
function dayStart(day: string, days = 0): string {
  const date = new Date(`${day}T00:00:00`);
  date.setDate(date.getDate() + days);
  return date.toISOString();
}

export function AuditPage({ signed, can, query }: PageProps) {
  const filters = Object.fromEntries(FILTERS.map((f) => [f, query.get(f) ?? ""])) as Record<
    (typeof FILTERS)[number],
    string
  >;
  const offset = Math.max(0, Number(query.get("offset")) || 0);
  const key = query.toString();

  const page = useAsync(() => {
    const q = new URLSearchParams({ limit: String(LIMIT), offset: String(offset) });
    if (filters.action) q.set("action", filters.action);
    if (filters.actor) q.set("actor_id", filters.actor);
    if (filters.target_type) q.set("target_type", filters.target_type);
    if (filters.target_id) q.set("target_id", filters.target_id);
    if (filters.from) q.set("since", dayStart(filters.from));
    // "To" includes that whole day: the server's `until` is exclusive.
    if (filters.to) q.set("until", dayStart(filters.to, 1));
    return api<AuditPage>(`/v1/audit?${q}`);
  }, [key]);

  // Members name the actors (and fill the actor filter) when the caller may list them.
  const members = useAsync(
    () =>
      can("org:read")
        ? api<Member[]>(`/v1/organisations/${encodeURIComponent(signed.org.id)}/users`)
        : Promise.resolve([] as Member[]),
    [signed.org.id],
  );
  const emails = new Map((members.data ?? []).map((m) => [m.id, m.email]));
  const actorName = (e: AuditEvent) => {
    if (!e.actor_id) return e.actor_type;
    const who = emails.get(e.actor_id) ?? e.actor_id;
    return e.actor_type === "api_key" ? `${who} (API key)` : who;
  };

  const go = (params: Record<string, string | number>) => navigate(href(["audit"], params));

  const apply = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    go(Object.fromEntries(FILTERS.map((f) => [f, String(form.get(f) ?? "").trim()])));
  };

  const total = page.data?.total ?? 0;
  const shown = page.data?.events.length ?? 0;

  return (
    <section>
      <div class="page-header">
        <h1>Audit trail</h1>
      </div>
      {/* Keyed on the route, so the fields show the filters again after a navigation. */}
      <form key={key} class="form-inline" onSubmit={apply} aria-label="Filter the audit trail">
        <label>
          Action
          <input name="action" placeholder="apikey.*" defaultValue={filters.action} />
        </label>
        <label>
          Actor
          {members.data?.length ? (
            <select name="actor" defaultValue={filters.actor}>
              <option value="">anyone</option>
              {filters.actor && !emails.has(filters.actor) && <option value={filters.actor}>{filters.actor}</option>}
              {members.data.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.email}
                </option>
              ))}
            </select>
          ) : (
            <input name="actor" placeholder="user id" defaultValue={filters.actor} />
          )}
        </label>
        <label>
          Target type
          <input name="target_type" placeholder="api_key" defaultValue={filters.target_type} />
        </label>
        <label>
          Target
          <input name="target_id" placeholder="id or catalog.schema.table" defaultValue={filters.target_id} />
        </label>
        <label>
          From
          <input type="date" name="from" defaultValue={filters.from} />
        </label>
        <label>
          To
          <input type="date" name="to" defaultValue={filters.to} />
        </label>
        <button type="submit" class="primary">
          Apply filters
        </button>
        <button type="button" onClick={() => go({})}>
          Clear filters
        </button>
      </form>
      <ErrorBanner error={page.error} />
      {page.loading && !page.data ? (
        <Loading what="the audit trail" />
      ) : shown === 0 ? (
        <p class="muted">No events match.</p>
      ) : (
        <div class="table-scroll">
          <table class="grid">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {page.data!.events.map((e) => (
                <tr key={e.id}>
                  <td>{formatTime(e.created_at)}</td>
                  <td>{actorName(e)}</td>
                  <td>
                    <code>{e.action}</code>
                  </td>
                  <td>{[e.target_type, e.target_id].filter(Boolean).join(" ")}</td>
                  <td>
                    <details>
                      <summary>Details</summary>
                      <pre>{JSON.stringify(e.details, null, 2)}</pre>
                    </details>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="actions">
        <button
          type="button"
          disabled={offset === 0}
          onClick={() => go({ ...filters, offset: Math.max(0, offset - LIMIT) })}
        >
          Previous
        </button>
        <span class="muted" data-testid="audit-range">
          {shown ? `${offset + 1}–${offset + shown} of ${total}` : `${total} events`}
        </span>
        <button
          type="button"
          disabled={offset + shown >= total}
          onClick={() => go({ ...filters, offset: offset + LIMIT })}
        >
          Next
        </button>
      </div>
    </section>
  );
}
