//! The `Prefer` request header (RFC 7240), as PostgREST clients send it: every `Prefer`
//! header, comma-separated preferences, unknown ones ignored (as the RFC asks).

use axum::http::HeaderMap;

#[derive(Debug, Default)]
pub struct Prefer {
    /// `return=representation`: answer with the rows written.
    pub representation: bool,
    /// `count=exact`: count every matching row (`Content-Range`).
    pub count_exact: bool,
    /// `resolution=merge-duplicates`: an insert of an existing key updates it.
    pub merge_duplicates: bool,
    /// `respond-async`: start long work as a job and answer 202 with it, without waiting.
    pub respond_async: bool,
}

pub fn prefer(headers: &HeaderMap) -> Prefer {
    let mut p = Prefer::default();
    for value in headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok()) {
        for item in value.split(',').map(str::trim) {
            match item {
                "return=representation" => p.representation = true,
                "count=exact" => p.count_exact = true,
                "resolution=merge-duplicates" => p.merge_duplicates = true,
                "respond-async" => p.respond_async = true,
                _ => {}
            }
        }
    }
    p
}
