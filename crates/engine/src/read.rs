//! Row queries (`RowQuery`) as DataFusion plans over a Delta table, with filters pushed
//! into file and row-group pruning.

use arrow::datatypes::{DataType, SchemaRef};
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::{Expr, lit};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use lakeward_model::query::{CmpOp, Filter, IsValue, RowQuery};

use crate::coerce::scalar_from_text;
use crate::error::{EngineError, EngineResult, Input};

/// The name a table has inside its own single-table session.
pub(crate) const SELF: &str = "t";

fn field<'a>(schema: &'a SchemaRef, column: &str) -> EngineResult<&'a arrow::datatypes::Field> {
    schema.field_with_name(column).map_err(|_| EngineError::invalid(column, format!("unknown column `{column}`")))
}

/// A column reference that keeps the name's case (DataFusion's `col` would parse it).
pub(crate) fn column(name: &str) -> Expr {
    Expr::Column(datafusion::common::Column::new_unqualified(name))
}

/// The filter as an expression over `schema`; values are parsed as their column's type.
/// Filters past the limits every surface shares are refused here too, whichever surface
/// built them.
pub fn filter_expr(filter: &Filter, schema: &SchemaRef) -> EngineResult<Expr> {
    filter.check_limits().map_err(|m| EngineError::invalid(Input::Filter, m))?;
    expr_of(filter, schema)
}

fn expr_of(filter: &Filter, schema: &SchemaRef) -> EngineResult<Expr> {
    Ok(match filter {
        Filter::Cmp { column: name, op, value } => {
            let f = field(schema, name)?;
            let c = column(name);
            match op {
                CmpOp::Like | CmpOp::Ilike => {
                    if !matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
                        return Err(EngineError::invalid(
                            name,
                            format!(
                                "`{}` works only on string columns",
                                if *op == CmpOp::Like { "like" } else { "ilike" }
                            ),
                        ));
                    }
                    let pattern = lit(value.clone());
                    if *op == CmpOp::Like { c.like(pattern) } else { c.ilike(pattern) }
                }
                _ => {
                    let v = lit(scalar_from_text(f, value).map_err(|m| EngineError::invalid(name, m))?);
                    match op {
                        CmpOp::Eq => c.eq(v),
                        CmpOp::Neq => c.not_eq(v),
                        CmpOp::Gt => c.gt(v),
                        CmpOp::Gte => c.gt_eq(v),
                        CmpOp::Lt => c.lt(v),
                        CmpOp::Lte => c.lt_eq(v),
                        CmpOp::Like | CmpOp::Ilike => unreachable!("handled above"),
                    }
                }
            }
        }
        Filter::In { column: name, values } => {
            let f = field(schema, name)?;
            let list = values
                .iter()
                .map(|v| scalar_from_text(f, v).map(lit).map_err(|m| EngineError::invalid(name, m)))
                .collect::<EngineResult<Vec<_>>>()?;
            if list.is_empty() { lit(false) } else { column(name).in_list(list, false) }
        }
        Filter::Is { column: name, value } => {
            let f = field(schema, name)?;
            let c = column(name);
            match value {
                IsValue::Null => c.is_null(),
                IsValue::True | IsValue::False if f.data_type() != &DataType::Boolean => {
                    return Err(EngineError::invalid(name, "`is.true` and `is.false` work only on boolean columns"));
                }
                IsValue::True => c.is_true(),
                IsValue::False => c.is_false(),
            }
        }
        Filter::And(parts) => conjunction(parts, schema, Expr::and)?,
        Filter::Or(parts) => conjunction(parts, schema, Expr::or)?,
        Filter::Not(inner) => !expr_of(inner, schema)?,
    })
}

/// `parts` joined as a balanced tree, so that a list of n conditions nests log2(n) deep
/// rather than n (DataFusion walks expressions recursively).
fn conjunction(parts: &[Filter], schema: &SchemaRef, join: fn(Expr, Expr) -> Expr) -> EngineResult<Expr> {
    match parts {
        [] => Err(EngineError::invalid(Input::Filter, "empty and/or list")),
        [one] => expr_of(one, schema),
        _ => {
            let (left, right) = parts.split_at(parts.len() / 2);
            Ok(join(conjunction(left, schema, join)?, conjunction(right, schema, join)?))
        }
    }
}

/// Registers `table` as the only table of `ctx` under [`SELF`].
pub(crate) async fn register(ctx: &SessionContext, table: &DeltaTable) -> EngineResult<()> {
    ctx.register_table(SELF, crate::scan::provider(table).await?)?;
    Ok(())
}

/// Applies a row query to a registered table; returns the page and, if asked, the
/// number of rows matching the filter.
pub(crate) async fn query(
    ctx: &SessionContext,
    schema: &SchemaRef,
    q: &RowQuery,
) -> EngineResult<(DataFrame, DataFrame)> {
    let mut df = ctx.table(SELF).await?;
    if let Some(filter) = &q.filter {
        df = df.filter(filter_expr(filter, schema)?)?;
    }
    let matching = df.clone();
    if !q.order.is_empty() {
        let sort = q
            .order
            .iter()
            .map(|o| {
                field(schema, &o.column)?;
                // PostgreSQL's defaults: nulls last ascending, first descending.
                Ok(column(&o.column).sort(!o.descending, o.nulls_first.unwrap_or(o.descending)))
            })
            .collect::<EngineResult<Vec<_>>>()?;
        df = df.sort(sort)?;
    }
    if q.limit.is_some() || q.offset > 0 {
        df = df.limit(q.offset as usize, q.limit.map(|l| l as usize))?;
    }
    if let Some(select) = &q.select {
        let exprs = select.iter().map(|c| field(schema, c).map(|_| column(c))).collect::<EngineResult<Vec<_>>>()?;
        df = df.select(exprs)?;
    }
    Ok((df, matching))
}
