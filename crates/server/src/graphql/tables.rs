//! The tables of an organisation as GraphQL sees them: predictable names, columns as
//! GraphQL scalars, and the relations that domains declare.
//!
//! Naming: a table `catalog.schema.table` is the type `catalog_schema_table`; its fields
//! are its columns by name. Identifiers never hold anything but `[A-Za-z0-9_]`, so names are
//! valid GraphQL names, but two tables can meet on one name (`a_b.c.t` and `a.b_c.t`), and
//! a table's name can meet one generated for another (`t_bool_exp`). Tables are named in
//! the order they were created, and one whose name (or any name generated from it) is
//! taken gets the first free suffix `_2`, `_3`, …: adding a table never renames one that
//! exists. Names that would start with `__` (reserved by GraphQL) start with `t` instead.

use std::collections::HashSet;
use std::sync::Arc;

use lakeward_engine::{ColumnType, Domain, Lookup, TableMetadata};
use lakeward_meta::store::TableEntry;
use url::Url;

/// The names generated for a table besides its own (`<name><suffix>`).
pub const GENERATED_SUFFIXES: &[&str] = &[
    "_bool_exp",
    "_order_by",
    "_by_pk",
    "_aggregate",
    "_aggregate_fields",
    "_min_fields",
    "_max_fields",
    "_sum_fields",
    "_avg_fields",
    "_connection",
    "_edge",
    "_insert_input",
    "_set_input",
    "_on_conflict",
    "_constraint",
    "_mutation_response",
];

/// The GraphQL scalar a column's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    String,
    Boolean,
    Int,
    /// 64-bit integers: JSON numbers out, numbers or strings in.
    BigInt,
    Float,
    /// Exact decimals, answered as text (`"10.50"`): a JSON number would be read as a float.
    Decimal,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339.
    Timestamp,
    /// Base64 text.
    Binary,
    /// Any JSON value.
    Json,
}

impl Scalar {
    pub fn of(column_type: &ColumnType) -> Scalar {
        match column_type {
            ColumnType::String => Scalar::String,
            ColumnType::Boolean => Scalar::Boolean,
            ColumnType::Int32 => Scalar::Int,
            ColumnType::Int64 => Scalar::BigInt,
            ColumnType::Float32 | ColumnType::Float64 => Scalar::Float,
            ColumnType::Decimal { .. } => Scalar::Decimal,
            ColumnType::Date => Scalar::Date,
            ColumnType::Timestamp => Scalar::Timestamp,
            ColumnType::Binary => Scalar::Binary,
            ColumnType::Json => Scalar::Json,
        }
    }

    pub fn type_name(self) -> &'static str {
        match self {
            Scalar::String => "String",
            Scalar::Boolean => "Boolean",
            Scalar::Int => "Int",
            Scalar::BigInt => "BigInt",
            Scalar::Float => "Float",
            Scalar::Decimal => "Decimal",
            Scalar::Date => "Date",
            Scalar::Timestamp => "Timestamp",
            Scalar::Binary => "Binary",
            Scalar::Json => "JSON",
        }
    }

    /// The scalars GraphQL does not define itself.
    pub const CUSTOM: [Scalar; 6] =
        [Scalar::BigInt, Scalar::Decimal, Scalar::Date, Scalar::Timestamp, Scalar::Binary, Scalar::Json];

    pub const ALL: [Scalar; 10] = [
        Scalar::String,
        Scalar::Boolean,
        Scalar::Int,
        Scalar::BigInt,
        Scalar::Float,
        Scalar::Decimal,
        Scalar::Date,
        Scalar::Timestamp,
        Scalar::Binary,
        Scalar::Json,
    ];

    /// Whether values order (min, max, comparisons).
    pub fn ordered(self) -> bool {
        !matches!(self, Scalar::Boolean | Scalar::Json | Scalar::Binary)
    }

    /// Whether values add up (sum, avg).
    pub fn numeric(self) -> bool {
        matches!(self, Scalar::Int | Scalar::BigInt | Scalar::Float | Scalar::Decimal)
    }

    pub fn textual(self) -> bool {
        self == Scalar::String
    }
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub scalar: Scalar,
    pub nullable: bool,
    pub comment: Option<String>,
}

/// A field that follows a domain to rows of another table (or back).
#[derive(Debug, Clone)]
pub struct Relation {
    pub field: String,
    /// Index of the other table in the organisation's list.
    pub target: usize,
    /// `(column here, column there)`: a row there is related when all pairs are equal.
    pub pairs: Vec<(String, String)>,
    /// The reverse side: a list of the rows whose domain points here.
    pub many: bool,
}

/// One table of the organisation, as the schema was built from it.
#[derive(Debug, Clone)]
pub struct Table {
    pub entry: TableEntry,
    pub location: Url,
    pub version: u64,
    /// The type name; every other name of the table starts with it.
    pub name: String,
    pub description: Option<String>,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    pub relations: Vec<Relation>,
    /// The domains of its columns, to find relations once every table is named.
    domains: Vec<(String, Domain)>,
}

impl Table {
    pub fn new(entry: TableEntry, location: Url, meta: &TableMetadata) -> Table {
        let mut columns = Vec::new();
        let mut domains = Vec::new();
        for c in &meta.columns {
            // `__` starts GraphQL's own names: such a column cannot be a field.
            if c.name.starts_with("__") {
                continue;
            }
            let Ok(column_type) = ColumnType::parse(&c.column_type) else { continue };
            columns.push(Column {
                name: c.name.clone(),
                scalar: Scalar::of(&column_type),
                nullable: c.nullable,
                comment: c.comment.clone(),
            });
            if let Some(domain) = &c.domain {
                domains.push((c.name.clone(), domain.clone()));
            }
        }
        Table {
            entry,
            location,
            version: meta.version,
            name: String::new(),
            description: meta.description.clone(),
            columns,
            primary_key: meta.primary_key.clone(),
            relations: Vec::new(),
            domains,
        }
    }

    /// A table described before, under its registry entry of now, to be named and linked
    /// again by `prepare`.
    pub fn renamed(mut self, entry: TableEntry) -> Table {
        self.entry = entry;
        self.name.clear();
        self.relations.clear();
        self
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn key_columns(&self) -> impl Iterator<Item = &Column> {
        self.primary_key.iter().filter_map(|k| self.column(k))
    }
}

/// Every name generated from a table's name.
fn generated_names(name: &str) -> Vec<String> {
    std::iter::once(name.to_owned())
        .chain(GENERATED_SUFFIXES.iter().map(|s| format!("{name}{s}")))
        .chain(["insert_", "update_", "delete_"].into_iter().map(|p| format!("{p}{name}")))
        .collect()
}

/// Names the tables (in the order of `tables`, which is their creation order) and links
/// the relations their domains declare.
pub fn prepare(mut tables: Vec<Table>) -> Vec<Arc<Table>> {
    let mut taken: HashSet<String> = ["Query", "Mutation", "PageInfo", "order_by"]
        .into_iter()
        .map(str::to_owned)
        .chain(Scalar::ALL.iter().map(|s| s.type_name().to_owned()))
        .chain(Scalar::ALL.iter().map(|s| format!("{}_comparison_exp", s.type_name())))
        .collect();
    for table in &mut tables {
        let t = &table.entry.table;
        let mut base = format!("{}_{}_{}", t.catalog, t.schema, t.table);
        if base.starts_with("__") {
            base.insert(0, 't');
        }
        let mut name = base.clone();
        let mut n = 1;
        while generated_names(&name).iter().any(|candidate| taken.contains(candidate)) {
            n += 1;
            name = format!("{base}_{n}");
        }
        taken.extend(generated_names(&name));
        table.name = name;
    }
    link_relations(&mut tables);
    tables.into_iter().map(Arc::new).collect()
}

/// A column with a reference domain (or a hierarchical domain looked up in a table) is
/// an object field `<column>_ref` to the row it names; the other table gets the list
/// `<this type>_by_<column>` of the rows naming it. A name taken by a column (or an
/// earlier relation) gets the first free suffix `_2`, `_3`, ….
fn link_relations(tables: &mut [Table]) {
    let index_of = |tables: &[Table], r: &lakeward_model::TableRef| tables.iter().position(|t| t.entry.table == *r);
    let mut found = Vec::new();
    for (source, table) in tables.iter().enumerate() {
        for (column, domain) in &table.domains {
            let (target_ref, pairs) = match domain {
                Domain::Reference { reference_source } => {
                    (&reference_source.table_reference, vec![(column.clone(), reference_source.column.clone())])
                }
                Domain::Hierarchical {
                    parent_column,
                    lookup: Lookup::Table { table_reference, parent_key, child_key },
                } => (
                    table_reference,
                    vec![(column.clone(), child_key.clone()), (parent_column.clone(), parent_key.clone())],
                ),
                _ => continue,
            };
            let Some(target) = index_of(tables, target_ref) else { continue };
            let exposed = |t: &Table, c: &str| t.column(c).is_some();
            if pairs.iter().all(|(here, there)| exposed(table, here) && exposed(&tables[target], there)) {
                found.push((source, column.clone(), target, pairs));
            }
        }
    }
    for (source, column, target, pairs) in found {
        let forward = free_field(&tables[source], &format!("{column}_ref"));
        tables[source].relations.push(Relation { field: forward, target, pairs: pairs.clone(), many: false });
        let reverse_name = format!("{}_by_{column}", tables[source].name);
        let reverse = free_field(&tables[target], &reverse_name);
        let flipped = pairs.into_iter().map(|(here, there)| (there, here)).collect();
        tables[target].relations.push(Relation { field: reverse, target: source, pairs: flipped, many: true });
    }
}

fn free_field(table: &Table, wanted: &str) -> String {
    let taken = |name: &str| table.column(name).is_some() || table.relations.iter().any(|r| r.field == name);
    let mut name = wanted.to_owned();
    let mut n = 1;
    while taken(&name) {
        n += 1;
        name = format!("{wanted}_{n}");
    }
    name
}
