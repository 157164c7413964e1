//! Keeps storage locations out of anything shown to users (errors, EXPLAIN output).

/// Replaces every mention of the given table locations (as URLs, absolute paths, or the
/// relative paths object stores use) and then any other URL or absolute path.
pub fn locations(text: &str, roots: &[url::Url]) -> String {
    let mut out = text.to_owned();
    for root in roots {
        let path = root.path().trim_matches('/');
        if path.is_empty() {
            continue;
        }
        for needle in [root.as_str().trim_end_matches('/').to_owned(), format!("/{path}"), path.to_owned()] {
            while let Some(start) = out.find(&needle) {
                let tail = &out[start..];
                let end = tail
                    .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ')' | ']' | '}' | '`'))
                    .unwrap_or(tail.len());
                out.replace_range(start..start + end, "<storage>");
            }
        }
    }
    paths(&out)
}

/// Replaces URLs and absolute paths with `<storage>`.
pub fn paths(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_location(rest) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let mut end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ')' | ']' | '}' | '`'))
            .unwrap_or(tail.len());
        // A sentence may go on right after a location: "... part-0.parquet: not found".
        while end > 0 && matches!(tail.as_bytes()[end - 1], b':' | b'.' | b';') {
            end -= 1;
        }
        out.push_str("<storage>");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn find_location(text: &str) -> Option<usize> {
    let schemes = ["file://", "s3://", "s3a://", "az://", "abfss://", "gs://", "memory://"];
    let by_scheme = schemes.iter().filter_map(|s| text.find(s)).min();
    // An absolute path: a `/` at the start or after a space/quote/`(`, followed by a name.
    let by_path = text.char_indices().find_map(|(i, c)| {
        if c != '/' {
            return None;
        }
        let before = text[..i].chars().last();
        let starts = matches!(before, None | Some(' ' | '"' | '\'' | '(' | '[' | '=' | ':'));
        // `/` is one byte, so `i + 1` is a character boundary.
        let next_is_name =
            text[i + 1..].chars().next().is_some_and(|n| n.is_ascii_alphanumeric() || n == '_' || n == '.');
        (starts && next_is_name).then_some(i)
    });
    // A data file named on its own, relative to a table's root.
    let by_file = text.find(".parquet").map(|end| {
        text[..end]
            .rfind(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '(' | '[' | ',' | '='))
            .map_or(0, |i| i + 1)
    });
    [by_scheme, by_path, by_file].into_iter().flatten().min()
}

#[cfg(test)]
mod tests {
    use super::paths;

    #[test]
    fn hides_table_locations_in_every_spelling() {
        let root = url::Url::parse("file:///tmp/wh/org/main/crm/t/").unwrap();
        let plan = "DataSourceExec: file_groups={1 group: [[tmp/wh/org/main/crm/t/part-0.parquet]]}, x=file:///tmp/wh/org/main/crm/t/_delta_log";
        assert_eq!(
            super::locations(plan, &[root]),
            "DataSourceExec: file_groups={1 group: [[<storage>]]}, x=<storage>"
        );
    }

    #[test]
    fn hides_urls_and_absolute_paths() {
        assert_eq!(paths("cannot read file:///data/wh/org/t/part-0.parquet: gone"), "cannot read <storage>: gone");
        assert_eq!(paths("object at s3://bucket/key not found"), "object at <storage> not found");
        assert_eq!(
            paths("DataSourceExec: file_groups={1 group: [[/tmp/x/y.parquet]]}"),
            "DataSourceExec: file_groups={1 group: [[<storage>]]}"
        );
        assert_eq!(paths("a/b is fine, 1/2 too"), "a/b is fine, 1/2 too");
        assert_eq!(
            paths("file_groups={1 group: [[part-00000-d05a.c000.snappy.parquet, part-1.parquet]]}"),
            "file_groups={1 group: [[<storage>, <storage>]]}"
        );
        // Multi-byte characters (DataFusion prints durations in µs) are stepped over.
        assert_eq!(paths("elapsed=14.18µs, file=/tmp/x.parquet µ/"), "elapsed=14.18µs, file=<storage> µ/");
    }
}
