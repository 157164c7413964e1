//! Differences between two tables' definitions (schema drift): columns missing or extra,
//! and for the columns both have their type, nullability, position, comment and domain;
//! the primary key, partitioning, constraints and description. What both tables' logs
//! say; no data is read.

use serde::Serialize;
use serde_json::{Value, json};

use crate::table::{ColumnInfo, TableMetadata};

/// One difference: what differs, in which column (if a column's), and each side's value
/// (`null` for a side that lacks it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    /// `column_missing` (the source has it, the destination not), `column_extra`, `type`,
    /// `nullability`, `position`, `comment`, `domain`, `primary_key`, `partition_columns`,
    /// `constraint_missing`, `constraint_extra`, `constraint_changed` or `description`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub source: Value,
    pub destination: Value,
}

impl Drift {
    fn new(kind: &'static str, column: Option<&str>, source: Value, destination: Value) -> Self {
        Self { kind, column: column.map(str::to_owned), source, destination }
    }
}

/// How `destination`'s definition differs from `source`'s, columns in the source's order
/// first (then the destination's extra ones), then the table-wide parts.
pub fn definition_drift(source: &TableMetadata, destination: &TableMetadata) -> Vec<Drift> {
    let mut drift = Vec::new();
    let find = |columns: &[ColumnInfo], name: &str| columns.iter().position(|c| c.name == name);
    let common: Vec<&str> = source
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .filter(|name| find(&destination.columns, name).is_some())
        .collect();
    fn order_of<'a>(columns: &'a [ColumnInfo], common: &[&str]) -> Vec<&'a str> {
        columns.iter().map(|c| c.name.as_str()).filter(|n| common.contains(n)).collect()
    }
    let reordered = order_of(&source.columns, &common) != order_of(&destination.columns, &common);
    for (position, column) in source.columns.iter().enumerate() {
        let name = Some(column.name.as_str());
        let Some(other_position) = find(&destination.columns, &column.name) else {
            drift.push(Drift::new("column_missing", name, json!(column.column_type), Value::Null));
            continue;
        };
        let other = &destination.columns[other_position];
        let mut differs = |kind, a: Value, b: Value| {
            if a != b {
                drift.push(Drift::new(kind, name, a, b));
            }
        };
        differs("type", json!(column.column_type), json!(other.column_type));
        differs("nullability", json!(column.nullable), json!(other.nullable));
        if reordered {
            differs("position", json!(position), json!(other_position));
        }
        differs("comment", json!(column.comment), json!(other.comment));
        differs("domain", domain_content(column), domain_content(other));
    }
    for column in &destination.columns {
        if find(&source.columns, &column.name).is_none() {
            drift.push(Drift::new("column_extra", Some(&column.name), Value::Null, json!(column.column_type)));
        }
    }
    if source.primary_key != destination.primary_key {
        drift.push(Drift::new("primary_key", None, json!(source.primary_key), json!(destination.primary_key)));
    }
    if source.partition_columns != destination.partition_columns {
        let (a, b) = (json!(source.partition_columns), json!(destination.partition_columns));
        drift.push(Drift::new("partition_columns", None, a, b));
    }
    for (name, expr) in &source.constraints {
        match destination.constraints.iter().find(|(n, _)| n == name) {
            None => drift.push(Drift::new("constraint_missing", None, json!({ name: expr }), Value::Null)),
            Some((_, other)) if other != expr => {
                drift.push(Drift::new("constraint_changed", None, json!({ name: expr }), json!({ name: other })))
            }
            Some(_) => {}
        }
    }
    for (name, expr) in &destination.constraints {
        if !source.constraints.iter().any(|(n, _)| n == name) {
            drift.push(Drift::new("constraint_extra", None, Value::Null, json!({ name: expr })));
        }
    }
    if source.description != destination.description {
        drift.push(Drift::new("description", None, json!(source.description), json!(destination.description)));
    }
    drift
}

/// A column's domain without the ids of its values: two domains allowing the same values
/// are the same, whichever table made them.
fn domain_content(column: &ColumnInfo) -> Value {
    fn without_ids(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("id");
                map.values_mut().for_each(without_ids);
            }
            Value::Array(items) => items.iter_mut().for_each(without_ids),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(&column.domain).unwrap_or(Value::Null);
    without_ids(&mut value);
    value
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn column(name: &str, column_type: &str, nullable: bool) -> ColumnInfo {
        ColumnInfo {
            name: name.into(),
            column_type: column_type.into(),
            nullable,
            comment: None,
            domain: None,
            metadata: HashMap::new(),
        }
    }

    fn table(columns: Vec<ColumnInfo>) -> TableMetadata {
        TableMetadata {
            version: 0,
            name: None,
            description: None,
            num_rows: 0,
            num_files: 0,
            file_size: 0,
            small_files: 0,
            columns,
            primary_key: vec!["id".into()],
            partition_columns: vec![],
            constraints: vec![("positive".into(), "id > 0".into())],
            properties: HashMap::new(),
            column_statistics: vec![],
            created_at: None,
            last_modified: None,
        }
    }

    #[test]
    fn the_same_definition_has_no_drift_and_each_difference_is_named() {
        let source =
            table(vec![column("id", "int64", false), column("name", "string", true), column("age", "int32", true)]);
        assert_eq!(definition_drift(&source, &source.clone()), vec![]);

        let mut renamed = column("name", "string", false);
        renamed.comment = Some("display name".into());
        let mut destination = table(vec![
            column("age", "int64", true),
            column("id", "int64", false),
            renamed,
            column("email", "string", true),
        ]);
        destination.primary_key = vec![];
        destination.constraints = vec![("positive".into(), "id >= 0".into()), ("adult".into(), "age > 17".into())];
        destination.description = Some("copy".into());
        let drift = definition_drift(&source, &destination);
        let kinds: Vec<(&str, Option<&str>)> = drift.iter().map(|d| (d.kind, d.column.as_deref())).collect();
        assert_eq!(
            kinds,
            [
                ("position", Some("id")),
                ("nullability", Some("name")),
                ("position", Some("name")),
                ("comment", Some("name")),
                ("type", Some("age")),
                ("position", Some("age")),
                ("column_extra", Some("email")),
                ("primary_key", None),
                ("constraint_changed", None),
                ("constraint_extra", None),
                ("description", None),
            ]
        );
        let missing = definition_drift(&destination, &source);
        assert_eq!((missing[6].kind, missing[6].column.as_deref()), ("column_missing", Some("email")));
        assert_eq!(missing[6].source, json!("string"));
    }
}
