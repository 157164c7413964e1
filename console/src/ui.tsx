// Shared pieces of every page. Values and names are only ever rendered as text nodes
// (Preact's children), never as HTML: nothing here sets innerHTML.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";

export type Async<T> = { data?: T; error?: unknown; loading: boolean; reload: () => void };

/** Runs `load` when `deps` change; `reload` runs it again. */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(controller.signal).then(
      (data) => !controller.signal.aborted && setState({ data, loading: false }),
      (error) => !controller.signal.aborted && setState({ error, loading: false }),
    );
    return () => controller.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** A change the user asked for: its outcome (a notice or the server's error) and, after
 * it, the data reloaded as the server now has it. */
export function useAction(reload: () => void) {
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");
  const run = async (change: () => Promise<string>) => {
    setError(null);
    setNotice("");
    try {
      setNotice(await change());
    } catch (e) {
      setError(e);
    }
    reload();
  };
  return { error, setError, notice, setNotice, run };
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.describe();
  if (error instanceof Error) return error.message;
  return String(error);
}

export function ErrorBanner({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <div class="banner error" role="alert">
      {errorText(error)}
    </div>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <div class="banner ok" role="status">
      {children}
    </div>
  );
}

export function Loading({ what }: { what?: string }) {
  return (
    <p class="muted" role="status">
      Loading{what ? ` ${what}` : ""}…
    </p>
  );
}

export function ProgressBar({ percent, label }: { percent: number | null; label: string }) {
  return (
    <div class="progress">
      <progress max={100} value={percent ?? undefined} aria-label={label} />
      <span class="progress-text">{percent === null ? "working…" : `${percent} %`}</span>
    </div>
  );
}

/** A modal dialog (the browser's own `<dialog>`: focus stays inside, Escape closes it). */
export function Dialog({
  title,
  open,
  onClose,
  children,
}: {
  title: string;
  open: boolean;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current!;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} onClose={onClose} aria-label={title}>
      <h2>{title}</h2>
      {open && children}
    </dialog>
  );
}

/** A confirmation: the action runs only once the user says yes. */
export function Confirm({
  title,
  message,
  confirmLabel,
  open,
  onConfirm,
  onCancel,
}: {
  title: string;
  message: ComponentChildren;
  confirmLabel: string;
  open: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <Dialog title={title} open={open} onClose={onCancel}>
      <p>{message}</p>
      <div class="actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={onConfirm}>
          {confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}

/** A secret shown once (an API key, an invitation token), with a copy button. */
export function ShownOnce({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="shown-once" role="status">
      <p>
        <strong>{label}</strong> It is shown only this once: copy it now.
      </p>
      <code class="secret" data-testid="secret">
        {value}
      </code>
      <button
        type="button"
        onClick={() => navigator.clipboard?.writeText(value).then(() => setCopied(true), () => setCopied(false))}
      >
        {copied ? "Copied" : "Copy"}
      </button>
    </div>
  );
}

/** A value as the grid shows it: text, with null kept apart from the empty string. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A read-only table of rows (SQL results, previews). */
export function ResultTable({ columns, rows }: { columns: string[]; rows: Record<string, unknown>[] }) {
  return (
    <div class="table-scroll">
      <table class="grid readonly">
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" key={c}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={i}>
              {columns.map((c) => (
                <td key={c} class={row[c] === null ? "null" : undefined}>
                  {row[c] === null ? "null" : cellText(row[c])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function formatTime(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

/** Scopes the caller holds decide which controls a page shows; the server decides anyway. */
export type Can = (scope: string) => boolean;
