// The console's only way to the server: the public API, with the session's bearer token.
// The token lives in sessionStorage (this tab only, gone when it closes) and is sent only
// in the Authorization header to this origin: no cookie, so no other site can make the
// browser use it, and the Content-Security-Policy lets scripts talk to this origin only.

const TOKEN_KEY = "lakeward.token";

export type ErrorDetail = { field: string; message: string };

/** The server's error shape, as every endpoint answers it. */
export class ApiError extends Error {
  status: number;
  details: ErrorDetail[];
  body: Record<string, unknown>;
  constructor(status: number, body: Record<string, unknown>) {
    super(typeof body.message === "string" ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.details = Array.isArray(body.details) ? (body.details as ErrorDetail[]) : [];
  }
  /** The message with its details, for a banner. */
  describe(): string {
    const parts = this.details.map((d) => `${d.field}: ${d.message}`);
    if (typeof this.body.violatingRows === "number") parts.push(`${this.body.violatingRows} violating rows`);
    if (typeof this.body.requiredScope === "string") parts.push(`needs scope ${this.body.requiredScope}`);
    if (typeof this.body.retryAfter === "number") parts.push(`try again in ${this.body.retryAfter} s`);
    return parts.length ? `${this.message} (${parts.join("; ")})` : this.message;
  }
}

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** Called when the server says the session is no longer valid. */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(callback: () => void) {
  onUnauthorized = callback;
}

export type RequestOptions = {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
};

/** A request to the API; answers the raw response when it succeeded. */
export async function raw(path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  const token = session.token();
  if (token) headers.authorization = `Bearer ${token}`;
  let body: BodyInit | undefined;
  if (options.body instanceof FormData || typeof options.body === "string" || options.body instanceof Blob) {
    body = options.body as BodyInit;
  } else if (options.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  const response = await fetch(path, { method: options.method ?? "GET", headers, body, signal: options.signal });
  if (!response.ok) {
    let parsed: Record<string, unknown> = {};
    try {
      parsed = await response.json();
    } catch {
      parsed = { message: `${response.status} ${response.statusText}` };
    }
    if (response.status === 401 && token) {
      session.clear();
      onUnauthorized();
    }
    throw new ApiError(response.status, parsed);
  }
  return response;
}

/** A request whose answer is JSON. */
export async function api<T = any>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await raw(path, options);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** `catalog/schema/table` as a path, each part escaped. */
export function tablePath(t: TableName): string {
  return `/v1/tables/${encodeURIComponent(t.catalog)}/${encodeURIComponent(t.schema)}/${encodeURIComponent(t.table)}`;
}

export type TableName = { catalog: string; schema: string; table: string };

export function qualified(t: TableName): string {
  return `${t.catalog}.${t.schema}.${t.table}`;
}

/** The caller: who, in which organisation, with which scopes. */
export type Me = {
  id: string;
  email: string;
  role: string;
  organisation_id: string;
  auth: { method: string; scopes: string[] };
};

export type Organisation = { id: string; name: string; user_count: number };

export type Field = {
  name: string;
  type: string;
  nullable: boolean;
  comment: string | null;
  domain: Domain | null;
  metadata: Record<string, string>;
};

export type Domain = {
  type: "fixed" | "hierarchical" | "reference";
  allowed_values?: { id: string; value: string }[];
  parent_column?: string;
  lookup?: { kind: string; [k: string]: unknown };
  [k: string]: unknown;
};

export type TableMeta = {
  id: string;
  catalog: string;
  schema_name: string;
  table_name: string;
  description: string | null;
  version: number;
  num_rows: number;
  num_files: number;
  file_size: number;
  schema: { fields: Field[] };
  primary_key: string[];
  partition_columns: string[];
  constraints: { name: string; expr: string }[];
  properties: Record<string, string>;
  /** What the caller may do on this table: its role's privileges and those granted. */
  privileges: string[];
};

export type JobProgress = {
  rows_read: number;
  rows_written: number;
  rows_total: number | null;
  bytes_read: number | null;
  bytes_total: number | null;
  steps_done: number | null;
  steps_total: number | null;
};

export type Job = {
  id: string;
  kind: string;
  status: "queued" | "running" | "succeeded" | "failed" | "cancelled";
  target: string | null;
  version: number | null;
  error: { message?: string; details?: ErrorDetail[]; [k: string]: unknown } | string | null;
  progress: JobProgress;
  result: unknown;
  created_at: string;
  finished_at: string | null;
};

/** How far a job is, 0 to 100, when it can be told. */
export function jobPercent(job: Job): number | null {
  if (job.status === "succeeded") return 100;
  const p = job.progress;
  const fraction = p.steps_total
    ? (p.steps_done ?? 0) / p.steps_total
    : p.bytes_total
      ? (p.bytes_read ?? 0) / p.bytes_total
      : p.rows_total
        ? p.rows_written / p.rows_total
        : null;
  // All input read is not done: the commit is still to come, so 100 % waits for the end.
  return fraction === null ? null : Math.min(99, Math.floor(100 * fraction));
}

export const jobEnded = (job: Job) => ["succeeded", "failed", "cancelled"].includes(job.status);

/** Server-Sent Events read with fetch (EventSource cannot send the Authorization header). */
export async function followEvents(
  path: string,
  onEvent: (event: string, data: any) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await raw(path, { headers: { accept: "text/event-stream" }, signal });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) {
        let parsed: unknown = data.join("\n");
        try {
          parsed = JSON.parse(parsed as string);
        } catch {
          /* not JSON: keep the text */
        }
        onEvent(event, parsed);
      }
    }
  }
}

/** Saves a response body as a file the user downloads. */
export async function download(response: Response, fallbackName: string) {
  const disposition = response.headers.get("content-disposition") ?? "";
  const named = /filename="?([^";]+)"?/.exec(disposition)?.[1];
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = named ?? fallbackName;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
