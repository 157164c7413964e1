//! The GraphQL schema of one organisation, generated from its tables (see `tables` for
//! the names). Per table `T`:
//! - queries `T` (list: `where`, `order_by`, `limit`, `offset`), `T_by_pk` (tables with a
//!   primary key), `T_aggregate` (`count`, `min`, `max`, `sum`, `avg`), `T_connection`
//!   (`first`/`after`, `last`/`before`, `totalCount`), each with `version` / `as_of`;
//! - mutations `insert_T` (`objects`, `on_conflict` for tables with a primary key),
//!   `update_T` (`where`, `_set`), `delete_T` (`where`), answering `affected_rows` and
//!   `returning`;
//! - relation fields from domains (`<column>_ref`, and `<source type>_by_<column>` on the
//!   other side).
//!
//! Only the structure lives here; `resolve` does the work.

use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, EnumItem, Field, FieldFuture, InputObject, InputValue, Object, ResolverContext, Scalar as GqlScalar, Schema,
    SchemaError, TypeRef,
};

use super::filter::{COMPARISONS, ORDERINGS, PATTERNS};
use super::resolve;
use super::tables::{Scalar, Table};

/// How deeply a query may nest fields (GraphiQL's introspection query needs 13).
pub const MAX_DEPTH: usize = 16;
/// How many fields one query may select in all.
pub const MAX_COMPLEXITY: usize = 2000;

pub type Tables = Arc<Vec<Arc<Table>>>;

pub fn build(tables: Tables) -> Result<Schema, SchemaError> {
    let mut query = Object::new("Query").description("The tables of your organisation.");
    let mut mutation = Object::new("Mutation").description("Governed writes to the tables of your organisation.");
    // An object type needs a field: an organisation without tables has no Mutation type.
    let mutation_type = (!tables.is_empty()).then_some("Mutation");
    let mut builder = Schema::build("Query", mutation_type, None)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .register(order_by_enum())
        .register(page_info());
    for scalar in Scalar::CUSTOM {
        builder = builder.register(GqlScalar::new(scalar.type_name()).description(scalar_description(scalar)));
    }
    for scalar in Scalar::ALL {
        builder = builder.register(comparison_exp(scalar));
    }
    // Also the one field of Query in an organisation without tables.
    query = query.field(
        Field::new("tables_count", TypeRef::named_nn(TypeRef::INT), {
            let n = tables.len();
            move |_| FieldFuture::from_value(Some((n as i64).into()))
        })
        .description("How many tables this schema covers."),
    );
    for index in 0..tables.len() {
        for ty in table_types(&tables, index) {
            builder = builder.register(ty);
        }
        for field in query_fields(&tables, index) {
            query = query.field(field);
        }
        for field in mutation_fields(&tables, index) {
            mutation = mutation.field(field);
        }
    }
    if mutation_type.is_some() {
        builder = builder.register(mutation);
    }
    builder.register(query).finish()
}

fn scalar_description(scalar: Scalar) -> &'static str {
    match scalar {
        Scalar::BigInt => "A 64-bit integer: a JSON number in answers; a number or a string in arguments.",
        Scalar::Decimal => {
            "An exact decimal as text with its scale (\"10.50\"), the digits REST answers; a number or a string in arguments."
        }
        Scalar::Date => "A date, `YYYY-MM-DD`.",
        Scalar::Timestamp => "A timestamp, RFC 3339.",
        Scalar::Binary => "Bytes, as base64 text.",
        _ => "Any JSON value.",
    }
}

fn order_by_enum() -> Enum {
    ORDERINGS.iter().fold(
        Enum::new("order_by")
            .description("Sort direction and where nulls go (default: nulls last ascending, first descending)."),
        |e, (name, ..)| e.item(EnumItem::new(*name)),
    )
}

fn page_info() -> Object {
    let flag = |name: &'static str| {
        Field::new(name, TypeRef::named_nn(TypeRef::BOOLEAN), move |ctx| {
            FieldFuture::new(async move { Ok(Some(resolve::page_info_field(&ctx, name)?)) })
        })
    };
    let cursor = |name: &'static str| {
        Field::new(name, TypeRef::named(TypeRef::STRING), move |ctx| {
            FieldFuture::new(async move { Ok(Some(resolve::page_info_field(&ctx, name)?)) })
        })
    };
    Object::new("PageInfo")
        .field(flag("hasNextPage"))
        .field(flag("hasPreviousPage"))
        .field(cursor("startCursor"))
        .field(cursor("endCursor"))
}

fn comparison_exp(scalar: Scalar) -> InputObject {
    let ty = scalar.type_name();
    let mut input = InputObject::new(format!("{ty}_comparison_exp"))
        .description(format!("Conditions on a {ty} column; all given must hold."));
    let ops: Vec<&str> =
        if scalar.ordered() { COMPARISONS.iter().map(|(n, _)| *n).collect() } else { vec!["_eq", "_neq"] };
    for op in ops {
        input = input.field(InputValue::new(op, TypeRef::named(ty)));
    }
    input = input
        .field(InputValue::new("_in", TypeRef::named_nn_list(ty)))
        .field(InputValue::new("_nin", TypeRef::named_nn_list(ty)))
        .field(InputValue::new("_is_null", TypeRef::named(TypeRef::BOOLEAN)));
    if scalar.textual() {
        for (op, _) in PATTERNS {
            input = input.field(
                InputValue::new(op, TypeRef::named(ty))
                    .description("SQL LIKE pattern: `%` any text, `_` one character"),
            );
        }
    }
    input
}

/// Arguments every read takes: an earlier state of the table.
fn time_travel(field: Field) -> Field {
    field
        .argument(
            InputValue::new("version", TypeRef::named(TypeRef::INT))
                .description("Read the table as it was at this version"),
        )
        .argument(
            InputValue::new("as_of", TypeRef::named(TypeRef::STRING))
                .description("Read the table as it was at this time (RFC 3339)"),
        )
}

fn table_types(tables: &Tables, index: usize) -> Vec<async_graphql::dynamic::Type> {
    let t = &tables[index];
    let n = &t.name;
    let mut types: Vec<async_graphql::dynamic::Type> = Vec::new();

    let mut object = Object::new(n.clone())
        .description(t.description.clone().unwrap_or_else(|| format!("A row of `{}`", t.entry.table)));
    for c in &t.columns {
        let ty =
            if c.nullable { TypeRef::named(c.scalar.type_name()) } else { TypeRef::named_nn(c.scalar.type_name()) };
        let name = c.name.clone();
        let mut field = Field::new(c.name.clone(), ty, move |ctx| {
            let name = name.clone();
            FieldFuture::new(async move { resolve::column(&ctx, &name) })
        });
        if let Some(comment) = &c.comment {
            field = field.description(comment.clone());
        }
        object = object.field(field);
    }
    for (i, relation) in t.relations.iter().enumerate() {
        let target = &tables[relation.target];
        let ty = if relation.many {
            TypeRef::named_nn_list_nn(target.name.clone())
        } else {
            TypeRef::named(target.name.clone())
        };
        let (tables, index) = (tables.clone(), index);
        object = object.field(
            Field::new(relation.field.clone(), ty, move |ctx| {
                let tables = tables.clone();
                FieldFuture::new(async move { resolve::relation(&ctx, &tables, index, i).await })
            })
            .description(if relation.many {
                format!("The rows of `{}` whose domain names this row", target.entry.table)
            } else {
                format!("The row of `{}` this value names", target.entry.table)
            }),
        );
    }
    types.push(object.into());

    let mut bool_exp = InputObject::new(format!("{n}_bool_exp"))
        .description("Row conditions: the columns' conditions, all of which must hold, combined with _and, _or, _not.")
        .field(InputValue::new("_and", TypeRef::named_nn_list(format!("{n}_bool_exp"))))
        .field(InputValue::new("_or", TypeRef::named_nn_list(format!("{n}_bool_exp"))))
        .field(InputValue::new("_not", TypeRef::named(format!("{n}_bool_exp"))));
    let mut order_by = InputObject::new(format!("{n}_order_by"));
    let mut insert = InputObject::new(format!("{n}_insert_input"));
    let mut set = InputObject::new(format!("{n}_set_input"));
    for c in &t.columns {
        bool_exp = bool_exp
            .field(InputValue::new(c.name.clone(), TypeRef::named(format!("{}_comparison_exp", c.scalar.type_name()))));
        if c.scalar.ordered() || c.scalar == Scalar::Boolean {
            order_by = order_by.field(InputValue::new(c.name.clone(), TypeRef::named("order_by")));
        }
        // Every input field is optional: the engine checks NOT NULL and names the row.
        insert = insert.field(InputValue::new(c.name.clone(), TypeRef::named(c.scalar.type_name())));
        set = set.field(InputValue::new(c.name.clone(), TypeRef::named(c.scalar.type_name())));
    }
    types.extend([bool_exp.into(), order_by.into(), insert.into(), set.into()]);

    // Aggregates: count, and min/max/sum/avg of the columns they apply to.
    let mut fields = Object::new(format!("{n}_aggregate_fields")).field(Field::new(
        "count",
        TypeRef::named_nn(TypeRef::INT),
        |ctx| FieldFuture::new(async move { resolve::aggregate_count(&ctx) }),
    ));
    for (function, applies) in [
        ("min", Scalar::ordered as fn(Scalar) -> bool),
        ("max", Scalar::ordered),
        ("sum", Scalar::numeric),
        ("avg", Scalar::numeric),
    ] {
        let columns: Vec<_> = t.columns.iter().filter(|c| applies(c.scalar)).collect();
        if columns.is_empty() {
            continue;
        }
        let mut per_column = Object::new(format!("{n}_{function}_fields"));
        for c in columns {
            let ty = match (function, c.scalar) {
                ("avg", _) => TypeRef::FLOAT,
                // SQL sums 32-bit integers as 64-bit ones.
                ("sum", Scalar::Int) => Scalar::BigInt.type_name(),
                _ => c.scalar.type_name(),
            };
            let key = format!("{function}.{}", c.name);
            per_column = per_column.field(Field::new(c.name.clone(), TypeRef::named(ty), move |ctx| {
                let key = key.clone();
                FieldFuture::new(async move { resolve::aggregate_value(&ctx, &key) })
            }));
        }
        types.push(per_column.into());
        fields = fields.field(Field::new(function, TypeRef::named(format!("{n}_{function}_fields")), |ctx| {
            FieldFuture::new(async move { resolve::pass_through(&ctx) })
        }));
    }
    types.push(fields.into());
    types.push(
        Object::new(format!("{n}_aggregate"))
            .field(Field::new("aggregate", TypeRef::named(format!("{n}_aggregate_fields")), {
                let tables = tables.clone();
                move |ctx| {
                    let tables = tables.clone();
                    FieldFuture::new(async move { resolve::aggregate(&ctx, &tables[index]).await })
                }
            }))
            .into(),
    );

    // The connection form.
    types.push(
        Object::new(format!("{n}_edge"))
            .field(Field::new("cursor", TypeRef::named_nn(TypeRef::STRING), |ctx| {
                FieldFuture::new(async move { resolve::edge_cursor(&ctx) })
            }))
            .field(Field::new("node", TypeRef::named_nn(n.clone()), |ctx| {
                FieldFuture::new(async move { resolve::edge_node(&ctx) })
            }))
            .into(),
    );
    types.push(
        Object::new(format!("{n}_connection"))
            .field(Field::new("edges", TypeRef::named_nn_list_nn(format!("{n}_edge")), |ctx| {
                FieldFuture::new(async move { resolve::connection_edges(&ctx) })
            }))
            .field(Field::new("pageInfo", TypeRef::named_nn("PageInfo"), |ctx| {
                FieldFuture::new(async move { resolve::pass_through(&ctx) })
            }))
            .field(Field::new("totalCount", TypeRef::named_nn(TypeRef::INT), |ctx| {
                FieldFuture::new(async move { resolve::connection_total(&ctx) })
            }))
            .into(),
    );

    types.push(
        Object::new(format!("{n}_mutation_response"))
            .field(Field::new("affected_rows", TypeRef::named_nn(TypeRef::INT), |ctx| {
                FieldFuture::new(async move { resolve::affected_rows(&ctx) })
            }))
            .field(Field::new("returning", TypeRef::named_nn_list_nn(n.clone()), |ctx| {
                FieldFuture::new(async move { resolve::returning(&ctx) })
            }))
            .into(),
    );
    if !t.primary_key.is_empty() {
        types.push(
            Enum::new(format!("{n}_constraint"))
                .description("The unique constraints of the table: its primary key.")
                .item(EnumItem::new(format!("{n}_pkey")))
                .into(),
        );
        types.push(
            InputObject::new(format!("{n}_on_conflict"))
                .description("On a row whose primary key exists: replace that row (an upsert).")
                .field(InputValue::new("constraint", TypeRef::named_nn(format!("{n}_constraint"))))
                .into(),
        );
    }
    types
}

/// A resolver of table `index` (functions, so that the closures are for every lifetime).
fn read_resolver(
    tables: &Tables,
    index: usize,
    kind: resolve::ReadKind,
) -> impl for<'a> Fn(ResolverContext<'a>) -> FieldFuture<'a> + Send + Sync + 'static {
    let tables = tables.clone();
    move |ctx| {
        let table = tables[index].clone();
        FieldFuture::new(async move { resolve::read(&ctx, &table, kind).await })
    }
}

fn write_resolver(
    tables: &Tables,
    index: usize,
    kind: resolve::WriteKind,
) -> impl for<'a> Fn(ResolverContext<'a>) -> FieldFuture<'a> + Send + Sync + 'static {
    let tables = tables.clone();
    move |ctx| {
        let table = tables[index].clone();
        FieldFuture::new(async move { resolve::write(&ctx, &table, kind).await })
    }
}

fn query_fields(tables: &Tables, index: usize) -> Vec<Field> {
    let t = &tables[index];
    let n = &t.name;
    let resolver = |kind| read_resolver(tables, index, kind);
    let filtered = |field: Field| field.argument(InputValue::new("where", TypeRef::named(format!("{n}_bool_exp"))));
    let ordered =
        |field: Field| field.argument(InputValue::new("order_by", TypeRef::named_nn_list(format!("{n}_order_by"))));
    let mut fields = vec![
        time_travel(ordered(filtered(
            Field::new(n.clone(), TypeRef::named_nn_list_nn(n.clone()), resolver(resolve::ReadKind::List))
                .description(format!("Rows of `{}` (at most {} in one list; page with limit and offset)", t.entry.table, resolve::MAX_LIST_ROWS))
                .argument(InputValue::new("limit", TypeRef::named(TypeRef::INT)))
                .argument(InputValue::new("offset", TypeRef::named(TypeRef::INT))),
        ))),
        time_travel(filtered(
            Field::new(format!("{n}_aggregate"), TypeRef::named_nn(format!("{n}_aggregate")), resolver(resolve::ReadKind::Aggregate))
                .description(format!("Aggregates over the rows of `{}`", t.entry.table)),
        )),
        time_travel(ordered(filtered(
            Field::new(format!("{n}_connection"), TypeRef::named_nn(format!("{n}_connection")), resolver(resolve::ReadKind::Connection))
                .description(format!(
                    "Rows of `{}` in pages with cursors; pages after the first read the version the first read, so paging is stable under writes",
                    t.entry.table
                ))
                .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
                .argument(InputValue::new("after", TypeRef::named(TypeRef::STRING)))
                .argument(InputValue::new("last", TypeRef::named(TypeRef::INT)))
                .argument(InputValue::new("before", TypeRef::named(TypeRef::STRING))),
        ))),
    ];
    if !t.primary_key.is_empty() {
        let mut by_pk = Field::new(format!("{n}_by_pk"), TypeRef::named(n.clone()), resolver(resolve::ReadKind::ByKey))
            .description(format!("The row of `{}` with this primary key, or null", t.entry.table));
        for c in t.key_columns() {
            by_pk = by_pk.argument(InputValue::new(c.name.clone(), TypeRef::named_nn(c.scalar.type_name())));
        }
        fields.push(time_travel(by_pk));
    }
    fields
}

fn mutation_fields(tables: &Tables, index: usize) -> Vec<Field> {
    let t = &tables[index];
    let n = &t.name;
    let resolver = |kind| write_resolver(tables, index, kind);
    let response = || TypeRef::named_nn(format!("{n}_mutation_response"));
    let mut insert = Field::new(format!("insert_{n}"), response(), resolver(resolve::WriteKind::Insert))
        .description(format!(
            "Inserts rows into `{}` as one commit, checked whole (types, NOT NULL, domains, constraints, primary key)",
            t.entry.table
        ))
        .argument(InputValue::new("objects", TypeRef::named_nn_list_nn(format!("{n}_insert_input"))));
    if !t.primary_key.is_empty() {
        insert = insert.argument(InputValue::new("on_conflict", TypeRef::named(format!("{n}_on_conflict"))));
    }
    vec![
        insert,
        Field::new(format!("update_{n}"), response(), resolver(resolve::WriteKind::Update))
            .description(format!(
                "Sets columns of the rows of `{}` that `where` matches (`{{}}`: every row)",
                t.entry.table
            ))
            .argument(InputValue::new("where", TypeRef::named_nn(format!("{n}_bool_exp"))))
            .argument(InputValue::new("_set", TypeRef::named_nn(format!("{n}_set_input")))),
        Field::new(format!("delete_{n}"), response(), resolver(resolve::WriteKind::Delete))
            .description(format!("Deletes the rows of `{}` that `where` matches (`{{}}`: every row)", t.entry.table))
            .argument(InputValue::new("where", TypeRef::named_nn(format!("{n}_bool_exp")))),
    ]
}
