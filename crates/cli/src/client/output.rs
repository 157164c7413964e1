//! What commands print on stdout: aligned tables for people, JSON for programs (`--json`),
//! and answers the server already rendered (CSV, NDJSON) copied through unchanged.

use std::io::Write as _;

use futures::StreamExt as _;
use indexmap::IndexMap;
use serde_json::Value;

/// Rows in the server's column order (serde_json's own map sorts keys).
pub type Row = IndexMap<String, Value>;

/// Pretty JSON and a newline.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// A cell as text: strings bare, `NULL` for null, other values as JSON.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_owned(),
        Value::String(s) => s.replace('\n', "\\n"),
        other => other.to_string(),
    }
}

/// A plain text table: a header, a rule, the rows; columns padded to their widest cell,
/// numbers aligned right.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    right: Vec<bool>,
}

impl Table {
    pub fn new(headers: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let headers: Vec<String> = headers.into_iter().map(Into::into).collect();
        let right = vec![true; headers.len()];
        Self { headers, rows: Vec::new(), right }
    }

    /// Rows of JSON values under `columns`; a column is right-aligned when all its
    /// values are numbers (or null).
    pub fn of_rows(columns: &[String], rows: &[Row]) -> Self {
        let mut table = Self::new(columns.iter().cloned());
        for row in rows {
            let values: Vec<&Value> = columns.iter().map(|c| row.get(c).unwrap_or(&Value::Null)).collect();
            for (i, v) in values.iter().enumerate() {
                table.right[i] &= matches!(v, Value::Number(_) | Value::Null);
            }
            table.rows.push(values.into_iter().map(cell).collect());
        }
        table
    }

    pub fn push(&mut self, row: Vec<String>) {
        for (i, v) in row.iter().enumerate() {
            if let Some(right) = self.right.get_mut(i) {
                *right &= v.parse::<f64>().is_ok();
            }
        }
        self.rows.push(row);
    }

    pub fn render(&self) -> String {
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, v) in row.iter().enumerate() {
                widths[i] = widths[i].max(width(v));
            }
        }
        let line = |cells: &[String], align: bool| {
            let padded: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let pad = " ".repeat(widths[i] - width(v));
                    if align && self.right[i] && !self.rows.is_empty() {
                        format!("{pad}{v}")
                    } else {
                        format!("{v}{pad}")
                    }
                })
                .collect();
            padded.join("  ").trim_end().to_owned()
        };
        let mut text = line(&self.headers, false);
        text.push('\n');
        text.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
        text.push('\n');
        for row in &self.rows {
            text.push_str(&line(row, true));
            text.push('\n');
        }
        text
    }

    pub fn print(&self) -> std::io::Result<()> {
        std::io::stdout().write_all(self.render().as_bytes())
    }
}

/// "1 row", "3 rows".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// An answer the server rendered, copied to stdout as it arrives.
pub async fn copy_to_stdout(response: reqwest::Response) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| anyhow::anyhow!("the answer broke off: {e}"))?;
        out.write_all(&chunk)?;
    }
    out.flush()?;
    Ok(())
}

/// The server's JSON answer as it came (`--json`), ending in a newline.
pub async fn print_answer(response: reqwest::Response) -> anyhow::Result<()> {
    let body = response.bytes().await.map_err(|e| anyhow::anyhow!("the answer broke off: {e}"))?;
    let mut out = std::io::stdout().lock();
    out.write_all(&body)?;
    if !body.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// A byte count for people: `512 B`, `1.5 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_numbers_right_and_text_left() {
        let rows: Vec<Row> = serde_json::from_value(json!([
            { "name": "Ada", "id": 1, "note": null },
            { "name": "Grace", "id": 10, "note": "x\ny" },
        ]))
        .unwrap();
        let table = Table::of_rows(&["id".into(), "name".into(), "note".into()], &rows);
        assert_eq!(table.render(), "id  name   note\n--  -----  ----\n 1  Ada    NULL\n10  Grace  x\\ny\n");
        assert_eq!(Table::new(["a", "bb"]).render(), "a  bb\n-  --\n");
    }

    #[test]
    fn rows_keep_the_order_of_the_answer() {
        let rows: Vec<Row> = serde_json::from_str(r#"[{"z": 1, "a": 2}]"#).unwrap();
        assert_eq!(rows[0].keys().collect::<Vec<_>>(), ["z", "a"]);
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(count(1, "row", "rows"), "1 row");
    }
}
