// The organisation's jobs, newest first: filtered by status and kind (kept in the route,
// so a filtered list is bookmarkable), paged by the server's cursor, running ones followed
// live and cancellable by their creator or an admin.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, followEvents, Job, jobEnded, jobPercent } from "../api";
import { href, navigate } from "../router";
import type { PageProps } from "../shell";
import { ErrorBanner, formatTime, Loading, ProgressBar, useAsync } from "../ui";

type ListedJob = Job & { created_by?: string | null };

const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"];
const KINDS = ["import", "discovery", "clone", "vacuum", "compare", "optimize"];
const LIMIT = 50;

export function JobsPage({ signed, can, query }: PageProps) {
  const status = query.get("status") ?? "";
  const kind = query.get("kind") ?? "";
  // The cursors of the pages before this one: the server pages by "jobs older than <id>".
  const [cursors, setCursors] = useState<string[]>([]);
  const before = cursors[cursors.length - 1];
  useEffect(() => setCursors([]), [status, kind]);

  const listed = useAsync(() => {
    const q = new URLSearchParams({ limit: String(LIMIT) });
    if (status) q.set("status", status);
    if (kind) q.set("kind", kind);
    if (before) q.set("before", before);
    return api<ListedJob[]>(`/v1/jobs?${q}`);
  }, [status, kind, before]);

  // The list as it is now: the page as loaded, with live updates merged in.
  const [jobs, setJobs] = useState<ListedJob[]>([]);
  useEffect(() => setJobs(listed.data ?? []), [listed.data]);
  const update = (job: ListedJob) => setJobs((all) => all.map((j) => (j.id === job.id ? { ...j, ...job } : j)));

  useFollow(jobs, update);

  const [error, setError] = useState<unknown>(null);
  const cancel = async (job: ListedJob) => {
    setError(null);
    try {
      update(await api<ListedJob>(`/v1/jobs/${encodeURIComponent(job.id)}`, { method: "DELETE" }));
    } catch (e) {
      setError(e);
      listed.reload();
    }
  };
  const mayCancel = (job: ListedJob) =>
    !jobEnded(job) && (can("org:update") || (job.created_by != null && job.created_by === signed.me.id));

  const filter = (patch: Record<string, string>) => navigate(href(["jobs"], { status, kind, ...patch }));

  return (
    <section>
      <div class="page-header">
        <h1>Jobs</h1>
        <div class="actions">
          <button type="button" onClick={listed.reload}>
            Refresh
          </button>
        </div>
      </div>
      <div class="form-inline">
        <label>
          Status
          <select value={status} onChange={(e) => filter({ status: e.currentTarget.value })}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => filter({ kind: e.currentTarget.value })}>
            <option value="">any</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBanner error={listed.error ?? error} />
      {listed.loading && !listed.data ? (
        <Loading what="jobs" />
      ) : jobs.length === 0 ? (
        <p class="muted">No jobs{status || kind ? " match these filters" : " yet"}.</p>
      ) : (
        <div class="table-scroll">
          <table class="grid">
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Target</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">Created</th>
                <th scope="col">Finished</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((job) => (
                <tr key={job.id} data-job-id={job.id}>
                  <td>{job.kind}</td>
                  <td>{job.target ?? ""}</td>
                  <td>
                    <StatusBadge status={job.status} />
                    {job.status === "failed" && <div class="muted">{jobError(job)}</div>}
                  </td>
                  <td>
                    {!jobEnded(job) && (
                      <ProgressBar
                        percent={jobPercent(job)}
                        label={`Progress of ${job.kind} ${job.target ?? job.id}`}
                      />
                    )}
                  </td>
                  <td>{formatTime(job.created_at)}</td>
                  <td>{formatTime(job.finished_at)}</td>
                  <td>
                    {mayCancel(job) && (
                      <button type="button" class="danger" onClick={() => cancel(job)}>
                        Cancel
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="actions">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous
        </button>
        <button
          type="button"
          // A page shorter than the limit is the last one.
          disabled={(listed.data?.length ?? 0) < LIMIT}
          onClick={() => setCursors([...cursors, listed.data![listed.data!.length - 1].id])}
        >
          Next
        </button>
      </div>
    </section>
  );
}

function StatusBadge({ status }: { status: string }) {
  const tone = status === "succeeded" ? "badge ok" : status === "failed" ? "badge bad" : "badge";
  return <span class={tone}>{status}</span>;
}

/** A failed job's error as one line of text. */
function jobError(job: Job): string {
  const e = job.error;
  if (!e) return "";
  if (typeof e === "string") return e;
  const details = (e.details ?? []).map((d) => `${d.field}: ${d.message}`).join("; ");
  const message = e.message ?? JSON.stringify(e);
  return details ? `${message} (${details})` : message;
}

/** Follows every job of `jobs` that has not ended, each by its event stream (by polling
 * once a second when the stream breaks), until it ends or the page goes. */
function useFollow(jobs: Job[], onJob: (job: Job) => void) {
  const following = useRef(new Map<string, AbortController>());
  const live = jobs.filter((j) => !jobEnded(j)).map((j) => j.id);
  const key = live.join(",");
  useEffect(() => {
    const wanted = new Set(live);
    for (const [id, controller] of following.current) {
      if (!wanted.has(id)) {
        controller.abort();
        following.current.delete(id);
      }
    }
    for (const id of wanted) {
      if (following.current.has(id)) continue;
      const controller = new AbortController();
      following.current.set(id, controller);
      follow(id, onJob, controller.signal);
    }
  }, [key]);
  useEffect(() => () => following.current.forEach((c) => c.abort()), []);
}

async function follow(id: string, onJob: (job: Job) => void, signal: AbortSignal) {
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  let ended = false;
  try {
    await followEvents(
      `${path}/events`,
      (event, data) => {
        if (typeof data !== "object" || data === null) return;
        if (event === "end") ended = true;
        if (event === "progress" || event === "end") onJob(data as Job);
      },
      signal,
    );
  } catch {
    /* the stream broke (or the page went): polling below takes over */
  }
  while (!ended && !signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (signal.aborted) return;
    try {
      const job = await api<Job>(path, { signal });
      onJob(job);
      ended = jobEnded(job);
    } catch (e) {
      // Gone (or no longer ours to read): nothing more to follow.
      if (signal.aborted || (e instanceof ApiError && (e.status === 404 || e.status === 403))) return;
    }
  }
}
