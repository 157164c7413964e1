// The grid's sorting, filters, columns and page as the REST grammar's query string
// (`?select=…&order=…&name=ilike.*ada*&limit=100`), the same a script would send.
import type { Field } from "../api";

export type FilterOp = "eq" | "neq" | "gt" | "gte" | "lt" | "lte" | "ilike" | "is.null" | "not.is.null";

export const FILTER_OPS: { op: FilterOp; label: string }[] = [
  { op: "eq", label: "=" },
  { op: "neq", label: "≠" },
  { op: "gt", label: ">" },
  { op: "gte", label: "≥" },
  { op: "lt", label: "<" },
  { op: "lte", label: "≤" },
  { op: "ilike", label: "contains" },
  { op: "is.null", label: "is null" },
  { op: "not.is.null", label: "is not null" },
];

export type GridQuery = {
  order: { column: string; dir: "asc" | "desc" }[];
  filters: Record<string, { op: FilterOp; value: string }>;
  hidden: Set<string>;
  limit: number;
  offset: number;
};

/** A value in the grammar: quoted when it holds what the grammar reads as syntax. */
function literal(value: string): string {
  return /[,()".]|^\s|\s$/.test(value) ? `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"` : value;
}

export function compileQuery(q: GridQuery, fields: Field[], version: string | undefined, allColumns: boolean): string {
  const params = new URLSearchParams();
  if (!allColumns && q.hidden.size) {
    params.set("select", fields.filter((f) => !q.hidden.has(f.name)).map((f) => f.name).join(","));
  }
  for (const [column, { op, value }] of Object.entries(q.filters)) {
    if (op === "is.null") params.append(column, "is.null");
    else if (op === "not.is.null") params.append(column, "not.is.null");
    // `ilike` matches anywhere: `*` is the grammar's wildcard; the value is not quoted
    // (a quoted pattern would be read as the quotes themselves).
    else if (op === "ilike") params.append(column, `ilike.*${value}*`);
    else params.append(column, `${op}.${literal(value)}`);
  }
  if (q.order.length) params.set("order", q.order.map((o) => `${o.column}.${o.dir}`).join(","));
  if (version) params.set("version", version);
  params.set("limit", String(q.limit));
  if (q.offset) params.set("offset", String(q.offset));
  return params.toString();
}

/** `rows[3].country` (the 400's detail of a refused value) as row 3, column `country`. */
export function parseRowError(field: string): { row: number; column?: string } | null {
  const match = /^rows\[(\d+)\](?:\.(.+))?$/.exec(field);
  return match ? { row: Number(match[1]), column: match[2] } : null;
}
