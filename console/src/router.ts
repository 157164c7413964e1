// Hash routes (`#/t/main/crm/customers?version=3`): the server serves one page at `/`,
// and every view is addressable, bookmarkable and survives a reload.
import { useEffect, useState } from "preact/hooks";

export type Route = { path: string[]; query: URLSearchParams };

export function currentRoute(): Route {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = hash.split("?", 2);
  return {
    path: path.split("/").filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(query),
  };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

/** The hash for a path and query, each path part escaped. */
export function href(parts: string[], query?: Record<string, string | number | undefined>): string {
  const path = "#/" + parts.map(encodeURIComponent).join("/");
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") q.set(k, String(v));
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

export function navigate(to: string) {
  location.hash = to;
}
