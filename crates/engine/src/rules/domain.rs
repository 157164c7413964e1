//! Column domains: the values a column may take. A domain is stored as JSON in its
//! column's Delta metadata (`lakeward.domain`), so it versions, time-travels and clones
//! with the table, and any reader of the schema sees it.
//!
//! Kinds: `fixed` (an enum of values), `hierarchical` (the allowed values depend on a
//! parent column's value: `inline` parent -> children lists, `derived` from the pairs
//! already in the table, or `table`: pairs from a lookup table), and `reference` (the
//! values of another table's column, or of that column's own domain).
//!
//! Values are kept in their canonical text (the column type's own rendering: `7` for an
//! int column given `07`), which is also how written values are compared. Each value has
//! a stable id: replacing a list keeps the ids of the values that stay.

use std::collections::BTreeMap;

use arrow::datatypes::{Field, Schema};
use lakeward_model::TableRef;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{EngineError, EngineResult};
use crate::types::ColumnType;

/// The column-metadata key holding a column's domain.
pub const DOMAIN_KEY: &str = "lakeward.domain";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainValue {
    pub id: Uuid,
    pub value: String,
}

impl DomainValue {
    fn new(value: String) -> Self {
        Self { id: Uuid::new_v4(), value }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Domain {
    Fixed { allowed_values: Vec<DomainValue> },
    Hierarchical { parent_column: String, lookup: Lookup },
    Reference { reference_source: ReferenceSource },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Lookup {
    Inline {
        parents: Vec<Parent>,
    },
    /// The child values already present in the table for each parent value.
    Derived,
    Table {
        table_reference: TableRef,
        parent_key: String,
        child_key: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parent {
    pub id: Uuid,
    pub value: String,
    pub children: Vec<DomainValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSource {
    pub table_reference: TableRef,
    pub column: String,
}

/// A change to a column's domain, as the API's endpoints ask for it. Values, parents
/// and children named in a path are matched by id or by value.
#[derive(Debug, Clone)]
pub enum DomainChange {
    SetFixed {
        values: Vec<String>,
    },
    /// `mappings`: parent (a value id of the parent column's fixed domain, or a parent
    /// value) -> allowed children.
    SetInline {
        parent_column: String,
        mappings: BTreeMap<String, Vec<String>>,
    },
    SetDerived {
        parent_column: String,
    },
    SetTable {
        parent_column: String,
        table: TableRef,
        parent_key: String,
        child_key: String,
    },
    SetReference {
        table: TableRef,
        column: String,
    },
    AddValue {
        value: String,
    },
    ReplaceValues {
        values: Vec<String>,
    },
    RemoveValue {
        value: String,
    },
    AddParent {
        value: String,
    },
    RemoveParent {
        parent: String,
    },
    AddChild {
        parent: String,
        child: String,
    },
    ReplaceChildren {
        parent: String,
        children: Vec<String>,
    },
    RemoveChild {
        parent: String,
        child: String,
    },
    Remove,
}

/// Reads a column's domain from its metadata.
pub fn of_field(field: &Field) -> EngineResult<Option<Domain>> {
    field
        .metadata()
        .get(DOMAIN_KEY)
        .map(|text| {
            serde_json::from_str(text).map_err(|e| {
                EngineError::internal(format!("the domain stored for column `{}` is unreadable: {e}", field.name()))
            })
        })
        .transpose()
}

/// The canonical text of `text` as a value of `field`'s type.
pub fn canonical(field: &Field, text: &str) -> Result<String, String> {
    let scalar = crate::coerce::scalar_from_text(field, text)?;
    let array = scalar.to_array().map_err(|e| e.to_string())?;
    let texts = arrow::compute::cast(&array, &arrow::datatypes::DataType::Utf8).map_err(|e| e.to_string())?;
    Ok(arrow::array::AsArray::as_string::<i32>(&texts).value(0).to_owned())
}

fn field<'a>(schema: &'a Schema, name: &str, param: &str) -> EngineResult<&'a Field> {
    schema.field_with_name(name).map_err(|_| EngineError::invalid(param, format!("unknown column `{name}`")))
}

fn check_domain_type(field: &Field, param: &str) -> EngineResult<()> {
    match ColumnType::of_field(field) {
        Some(ColumnType::Binary | ColumnType::Json | ColumnType::Float32 | ColumnType::Float64) | None => {
            Err(EngineError::invalid(
                param,
                format!("column `{}` is of a type that cannot carry a domain (binary, json or float)", field.name()),
            ))
        }
        _ => Ok(()),
    }
}

/// Canonical texts of `values`, refusing empty lists, values not of the column's type
/// and repeats.
fn canonical_list(field: &Field, values: &[String], param: &str) -> EngineResult<Vec<String>> {
    if values.is_empty() {
        return Err(EngineError::invalid(param, "give at least one value"));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let c = canonical(field, v).map_err(|m| EngineError::invalid(format!("{param}[{i}]"), m))?;
        if out.contains(&c) {
            return Err(EngineError::invalid(format!("{param}[{i}]"), format!("`{c}` is listed twice")));
        }
        out.push(c);
    }
    Ok(out)
}

/// New values, keeping the ids of those already in `old`.
fn keep_ids(old: &[DomainValue], values: Vec<String>) -> Vec<DomainValue> {
    values
        .into_iter()
        .map(|value| old.iter().find(|o| o.value == value).cloned().unwrap_or_else(|| DomainValue::new(value)))
        .collect()
}

/// Entries that have an id and a value.
trait Entry {
    fn id(&self) -> Uuid;
    fn value(&self) -> &str;
}

impl Entry for DomainValue {
    fn id(&self) -> Uuid {
        self.id
    }
    fn value(&self) -> &str {
        &self.value
    }
}

impl Entry for Parent {
    fn id(&self) -> Uuid {
        self.id
    }
    fn value(&self) -> &str {
        &self.value
    }
}

/// The entry `wanted` names: by id, by value as given, or by its canonical text as a
/// value of `field`'s type (`07` finds `7`). Not found: 404 naming the `what` (`value`,
/// `parent`, ...) sought in `place` (`the domain of `city``, ...).
fn locate<T: Entry>(items: &[T], wanted: &str, field: &Field, what: &str, place: &str) -> EngineResult<usize> {
    let canonical_text = canonical(field, wanted).ok();
    items
        .iter()
        .position(|i| i.id().to_string() == wanted)
        .or_else(|| items.iter().position(|i| i.value() == wanted))
        .or_else(|| canonical_text.and_then(|c| items.iter().position(|i| i.value() == c)))
        .ok_or_else(|| EngineError::NotFound(format!("{what} `{wanted}` not found in {place}")))
}

/// What `change` makes of `current` for `column` of `schema`. Pure: references to other
/// tables are checked by the caller.
pub fn apply(
    schema: &Schema,
    column: &str,
    current: Option<&Domain>,
    change: DomainChange,
) -> EngineResult<Option<Domain>> {
    let target = field(schema, column, "column_name")?;
    let parent_field = |name: &str| -> EngineResult<&Field> {
        let f = field(schema, name, "parent_column")?;
        if name == column {
            return Err(EngineError::invalid("parent_column", "a column cannot be its own parent"));
        }
        check_domain_type(f, "parent_column")?;
        Ok(f)
    };
    let not_kind = |kind: &str| EngineError::invalid("domain", format!("column `{column}` has no {kind} domain"));
    match change {
        DomainChange::Remove => {
            if current.is_none() {
                return Err(EngineError::NotFound(format!("column `{column}` has no domain")));
            }
            Ok(None)
        }
        DomainChange::SetFixed { values } => {
            check_domain_type(target, "column_name")?;
            let values = canonical_list(target, &values, "allowed_values")?;
            let old = match current {
                Some(Domain::Fixed { allowed_values }) => allowed_values.as_slice(),
                _ => &[],
            };
            Ok(Some(Domain::Fixed { allowed_values: keep_ids(old, values) }))
        }
        DomainChange::SetInline { parent_column, mappings } => {
            check_domain_type(target, "column_name")?;
            let pf = parent_field(&parent_column)?;
            let parent_values = match of_field(pf)? {
                Some(Domain::Fixed { allowed_values }) => allowed_values,
                _ => Vec::new(),
            };
            let old_parents = match current {
                Some(Domain::Hierarchical { lookup: Lookup::Inline { parents }, .. }) => parents.as_slice(),
                _ => &[],
            };
            let mut parents: Vec<Parent> = Vec::with_capacity(mappings.len());
            for (key, children) in mappings {
                let param = format!("mappings.{key}");
                // A key is a value id of the parent's fixed domain, or a parent value.
                let (id, value) = match parent_values.iter().find(|v| v.id.to_string() == key) {
                    Some(v) => (Some(v.id), v.value.clone()),
                    None => (None, canonical(pf, &key).map_err(|m| EngineError::invalid(&param, m))?),
                };
                if parents.iter().any(|p| p.value == value) {
                    return Err(EngineError::invalid(param, format!("parent `{value}` is mapped twice")));
                }
                let old = old_parents.iter().find(|p| p.value == value);
                let children = canonical_list(target, &children, &param)?;
                parents.push(Parent {
                    id: id.or(old.map(|p| p.id)).unwrap_or_else(Uuid::new_v4),
                    children: keep_ids(old.map(|p| p.children.as_slice()).unwrap_or_default(), children),
                    value,
                });
            }
            if parents.is_empty() {
                return Err(EngineError::invalid("mappings", "give at least one parent value"));
            }
            Ok(Some(Domain::Hierarchical { parent_column, lookup: Lookup::Inline { parents } }))
        }
        DomainChange::SetDerived { parent_column } => {
            check_domain_type(target, "column_name")?;
            parent_field(&parent_column)?;
            Ok(Some(Domain::Hierarchical { parent_column, lookup: Lookup::Derived }))
        }
        DomainChange::SetTable { parent_column, table, parent_key, child_key } => {
            check_domain_type(target, "column_name")?;
            parent_field(&parent_column)?;
            Ok(Some(Domain::Hierarchical {
                parent_column,
                lookup: Lookup::Table { table_reference: table, parent_key, child_key },
            }))
        }
        DomainChange::SetReference { table, column: source } => {
            check_domain_type(target, "column_name")?;
            Ok(Some(Domain::Reference { reference_source: ReferenceSource { table_reference: table, column: source } }))
        }
        DomainChange::AddValue { value } => {
            let Some(Domain::Fixed { allowed_values }) = current else { return Err(not_kind("fixed")) };
            let value = canonical(target, &value).map_err(|m| EngineError::invalid("value", m))?;
            if allowed_values.iter().any(|v| v.value == value) {
                return Err(EngineError::Conflict(format!("`{value}` is already an allowed value")));
            }
            let mut allowed_values = allowed_values.clone();
            allowed_values.push(DomainValue::new(value));
            Ok(Some(Domain::Fixed { allowed_values }))
        }
        DomainChange::ReplaceValues { values } => {
            let Some(Domain::Fixed { allowed_values }) = current else { return Err(not_kind("fixed")) };
            let values = canonical_list(target, &values, "values")?;
            Ok(Some(Domain::Fixed { allowed_values: keep_ids(allowed_values, values) }))
        }
        DomainChange::RemoveValue { value } => {
            let Some(Domain::Fixed { allowed_values }) = current else { return Err(not_kind("fixed")) };
            let i = locate(allowed_values, &value, target, "value", &format!("the domain of `{column}`"))?;
            if allowed_values.len() == 1 {
                return Err(EngineError::invalid(
                    "value",
                    "the last value cannot be removed; remove the domain instead",
                ));
            }
            let mut allowed_values = allowed_values.clone();
            allowed_values.remove(i);
            Ok(Some(Domain::Fixed { allowed_values }))
        }
        DomainChange::AddParent { .. }
        | DomainChange::RemoveParent { .. }
        | DomainChange::AddChild { .. }
        | DomainChange::ReplaceChildren { .. }
        | DomainChange::RemoveChild { .. } => {
            let Some(Domain::Hierarchical { parent_column, lookup: Lookup::Inline { parents } }) = current else {
                return Err(not_kind("hierarchical inline"));
            };
            let pf = field(schema, parent_column, "parent_column")?;
            let mut parents = parents.clone();
            let in_domain = format!("the domain of `{column}`");
            match change {
                DomainChange::AddParent { value } => {
                    let value = canonical(pf, &value).map_err(|m| EngineError::invalid("value", m))?;
                    if parents.iter().any(|p| p.value == value) {
                        return Err(EngineError::Conflict(format!("parent `{value}` already exists")));
                    }
                    parents.push(Parent { id: Uuid::new_v4(), value, children: Vec::new() });
                }
                DomainChange::RemoveParent { parent } => {
                    let i = locate(&parents, &parent, pf, "parent", &in_domain)?;
                    if parents.len() == 1 {
                        return Err(EngineError::invalid(
                            "parent",
                            "the last parent cannot be removed; remove the domain instead",
                        ));
                    }
                    parents.remove(i);
                }
                DomainChange::AddChild { parent, child } => {
                    let i = locate(&parents, &parent, pf, "parent", &in_domain)?;
                    let child = canonical(target, &child).map_err(|m| EngineError::invalid("child", m))?;
                    if parents[i].children.iter().any(|c| c.value == child) {
                        return Err(EngineError::Conflict(format!(
                            "`{child}` is already a child of `{}`",
                            parents[i].value
                        )));
                    }
                    parents[i].children.push(DomainValue::new(child));
                }
                DomainChange::ReplaceChildren { parent, children } => {
                    let i = locate(&parents, &parent, pf, "parent", &in_domain)?;
                    let children = canonical_list(target, &children, "children")?;
                    parents[i].children = keep_ids(&parents[i].children, children);
                }
                DomainChange::RemoveChild { parent, child } => {
                    let i = locate(&parents, &parent, pf, "parent", &in_domain)?;
                    let under = format!("the children of `{}` in {in_domain}", parents[i].value);
                    let j = locate(&parents[i].children, &child, target, "child", &under)?;
                    parents[i].children.remove(j);
                }
                _ => unreachable!("only hierarchical changes reach here"),
            }
            Ok(Some(Domain::Hierarchical { parent_column: parent_column.clone(), lookup: Lookup::Inline { parents } }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::DataType;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("country", DataType::Utf8, true),
            Field::new("city", DataType::Utf8, true),
            Field::new("level", DataType::Int32, true),
            Field::new("score", DataType::Float64, true),
        ])
    }

    fn values(d: &Option<Domain>) -> Vec<(Uuid, String)> {
        match d {
            Some(Domain::Fixed { allowed_values }) => allowed_values.iter().map(|v| (v.id, v.value.clone())).collect(),
            _ => panic!("not fixed: {d:?}"),
        }
    }

    #[test]
    fn fixed_values_are_canonical_and_keep_their_ids() {
        let s = schema();
        let d = apply(&s, "level", None, DomainChange::SetFixed { values: vec!["01".into(), "2".into()] }).unwrap();
        let first = values(&d);
        assert_eq!(first.iter().map(|v| v.1.as_str()).collect::<Vec<_>>(), ["1", "2"]);
        let d2 = apply(&s, "level", d.as_ref(), DomainChange::ReplaceValues { values: vec!["2".into(), "3".into()] })
            .unwrap();
        let second = values(&d2);
        assert_eq!(second[0], first[1], "the id of a value that stays is kept");
        let d3 = apply(&s, "level", d2.as_ref(), DomainChange::RemoveValue { value: second[1].0.to_string() }).unwrap();
        assert_eq!(values(&d3), vec![second[0].clone()], "removal by id");
        let by_text = apply(&s, "level", d2.as_ref(), DomainChange::RemoveValue { value: "03".into() }).unwrap();
        assert_eq!(values(&by_text), vec![second[0].clone()], "removal by a value written another way");
        let e = apply(&s, "level", d2.as_ref(), DomainChange::RemoveValue { value: "4".into() }).unwrap_err();
        assert!(
            matches!(e, EngineError::NotFound(ref m) if m == "value `4` not found in the domain of `level`"),
            "{e:?}"
        );
        let e = apply(&s, "level", d3.as_ref(), DomainChange::AddValue { value: "x".into() }).unwrap_err();
        assert!(
            matches!(e, EngineError::Invalid { ref input, .. } if *input == crate::error::Input::from("value")),
            "{e:?}"
        );
        let e = apply(&s, "level", None, DomainChange::SetFixed { values: vec!["1".into(), "01".into()] }).unwrap_err();
        assert!(
            matches!(e, EngineError::Invalid { ref input, .. } if *input == crate::error::Input::from("allowed_values[1]")),
            "{e:?}"
        );
        let e = apply(&s, "score", None, DomainChange::SetFixed { values: vec!["1".into()] }).unwrap_err();
        assert!(matches!(e, EngineError::Invalid { .. }), "float columns carry no domain");
    }

    #[test]
    fn inline_hierarchies_resolve_parent_ids_and_edit_children() {
        let mut s = schema();
        let country_domain =
            apply(&s, "country", None, DomainChange::SetFixed { values: vec!["BE".into(), "FR".into()] }).unwrap();
        let be_id = values(&country_domain)[0].0;
        let fields: Vec<Field> = s
            .fields()
            .iter()
            .map(|f| {
                let mut f = f.as_ref().clone();
                if f.name() == "country" {
                    f.set_metadata(
                        [(DOMAIN_KEY.to_owned(), serde_json::to_string(country_domain.as_ref().unwrap()).unwrap())]
                            .into(),
                    );
                }
                f
            })
            .collect();
        s = Schema::new(fields);
        let mappings = BTreeMap::from([
            (be_id.to_string(), vec!["Brussels".to_owned(), "Ghent".to_owned()]),
            ("FR".to_owned(), vec!["Paris".to_owned()]),
        ]);
        let d = apply(&s, "city", None, DomainChange::SetInline { parent_column: "country".into(), mappings }).unwrap();
        let Some(Domain::Hierarchical { lookup: Lookup::Inline { parents }, .. }) = &d else { panic!() };
        let be = parents.iter().find(|p| p.value == "BE").unwrap();
        assert_eq!(be.id, be_id, "a parent named by id keeps the parent domain's id");
        let d = apply(&s, "city", d.as_ref(), DomainChange::AddChild { parent: "FR".into(), child: "Lyon".into() })
            .unwrap();
        let d = apply(
            &s,
            "city",
            d.as_ref(),
            DomainChange::RemoveChild { parent: be_id.to_string(), child: "Ghent".into() },
        )
        .unwrap();
        let Some(Domain::Hierarchical { lookup: Lookup::Inline { parents }, .. }) = &d else { panic!() };
        let children = |v: &str| -> Vec<String> {
            parents.iter().find(|p| p.value == v).unwrap().children.iter().map(|c| c.value.clone()).collect()
        };
        assert_eq!(children("BE"), ["Brussels"]);
        assert_eq!(children("FR"), ["Paris", "Lyon"]);
        let e = apply(&s, "city", d.as_ref(), DomainChange::AddChild { parent: "DE".into(), child: "Berlin".into() })
            .unwrap_err();
        assert!(
            matches!(e, EngineError::NotFound(ref m) if m == "parent `DE` not found in the domain of `city`"),
            "{e:?}"
        );
        let e = apply(&s, "city", d.as_ref(), DomainChange::AddParent { value: "FR".into() }).unwrap_err();
        assert!(matches!(e, EngineError::Conflict(_)));
        let e = apply(&s, "city", None, DomainChange::SetDerived { parent_column: "city".into() }).unwrap_err();
        assert!(
            matches!(e, EngineError::Invalid { ref input, .. } if *input == crate::error::Input::from("parent_column"))
        );
    }
}
