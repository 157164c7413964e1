//! The registry of catalogs, schemas and tables per organisation.

use chrono::{DateTime, Utc};
use lakeward_model::{Ident, TableRef};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{MetaError, MetaResult, MetaStore, is_unique_violation, now_ms, opt_uuid, time, uuid};

#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub id: Uuid,
    pub name: String,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct SchemaEntry {
    pub id: Uuid,
    pub catalog: String,
    pub name: String,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct TableEntry {
    pub id: Uuid,
    pub org_id: Uuid,
    pub table: TableRef,
    pub location: String,
    /// The storage connection the table lives on; `None` for managed tables.
    pub connection_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

fn ident(row: &AnyRow, col: &str) -> sqlx::Result<Ident> {
    let raw: String = row.try_get(col)?;
    Ident::new(&raw).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn table_from_row(row: &AnyRow) -> sqlx::Result<TableEntry> {
    Ok(TableEntry {
        id: uuid(row, "id")?,
        org_id: uuid(row, "org_id")?,
        table: TableRef {
            catalog: ident(row, "catalog")?,
            schema: ident(row, "schema_name")?,
            table: ident(row, "name")?,
        },
        location: row.try_get("location")?,
        connection_id: opt_uuid(row, "connection_id")?,
        created_at: time(row, "created_at")?,
        created_by: opt_uuid(row, "created_by")?,
    })
}

const TABLE_COLUMNS: &str = "id, org_id, catalog, schema_name, name, location, connection_id, created_at, created_by";

fn exists(what: &str) -> MetaError {
    MetaError::Conflict(format!("{what} already exists"))
}

impl MetaStore {
    pub async fn create_catalog(
        &self,
        org_id: Uuid,
        name: &Ident,
        comment: Option<&str>,
        by: Uuid,
    ) -> MetaResult<CatalogEntry> {
        let id = Uuid::now_v7();
        let done = sqlx::query(
            "INSERT INTO catalogs (id, org_id, name, comment, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(org_id.to_string())
        .bind(name.as_str())
        .bind(comment)
        .bind(now_ms())
        .bind(by.to_string())
        .execute(self.pool())
        .await;
        match done {
            Err(e) if is_unique_violation(&e) => Err(exists(&format!("catalog `{name}`"))),
            Err(e) => Err(e.into()),
            Ok(_) => self.get_catalog(org_id, name).await?.ok_or(MetaError::NotFound),
        }
    }

    pub async fn get_catalog(&self, org_id: Uuid, name: &Ident) -> MetaResult<Option<CatalogEntry>> {
        let row = sqlx::query(
            "SELECT id, name, comment, created_at, created_by FROM catalogs WHERE org_id = $1 AND name = $2",
        )
        .bind(org_id.to_string())
        .bind(name.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| catalog_from_row(&r)).transpose().map_err(Into::into)
    }

    pub async fn list_catalogs(&self, org_id: Uuid) -> MetaResult<Vec<CatalogEntry>> {
        let rows = sqlx::query(
            "SELECT id, name, comment, created_at, created_by FROM catalogs WHERE org_id = $1 ORDER BY name",
        )
        .bind(org_id.to_string())
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(catalog_from_row).collect::<sqlx::Result<_>>()?)
    }

    /// Drops an empty catalog; refuses one that still has schemas.
    pub async fn drop_catalog(&self, org_id: Uuid, name: &Ident) -> MetaResult<()> {
        let schemas: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schemas WHERE org_id = $1 AND catalog = $2")
            .bind(org_id.to_string())
            .bind(name.as_str())
            .fetch_one(self.pool())
            .await?;
        if schemas > 0 {
            return Err(MetaError::Conflict(format!(
                "catalog `{name}` is not empty: drop its {schemas} schema(s) first"
            )));
        }
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query("DELETE FROM catalogs WHERE org_id = $1 AND name = $2")
            .bind(org_id.to_string())
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(MetaError::NotFound);
        }
        forget_grants(&mut tx, org_id, "catalog", name.as_str()).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_schema(
        &self,
        org_id: Uuid,
        catalog: &Ident,
        name: &Ident,
        comment: Option<&str>,
        by: Uuid,
    ) -> MetaResult<SchemaEntry> {
        if self.get_catalog(org_id, catalog).await?.is_none() {
            return Err(MetaError::NotFound);
        }
        let id = Uuid::now_v7();
        let done = sqlx::query(
            "INSERT INTO schemas (id, org_id, catalog, name, comment, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.to_string())
        .bind(org_id.to_string())
        .bind(catalog.as_str())
        .bind(name.as_str())
        .bind(comment)
        .bind(now_ms())
        .bind(by.to_string())
        .execute(self.pool())
        .await;
        match done {
            Err(e) if is_unique_violation(&e) => Err(exists(&format!("schema `{catalog}.{name}`"))),
            Err(e) => Err(e.into()),
            Ok(_) => self.get_schema(org_id, catalog, name).await?.ok_or(MetaError::NotFound),
        }
    }

    pub async fn get_schema(&self, org_id: Uuid, catalog: &Ident, name: &Ident) -> MetaResult<Option<SchemaEntry>> {
        let row = sqlx::query(
            "SELECT id, catalog, name, comment, created_at, created_by FROM schemas WHERE org_id = $1 AND catalog = $2 AND name = $3",
        )
        .bind(org_id.to_string())
        .bind(catalog.as_str())
        .bind(name.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| schema_from_row(&r)).transpose().map_err(Into::into)
    }

    pub async fn list_schemas(&self, org_id: Uuid, catalog: &Ident) -> MetaResult<Vec<SchemaEntry>> {
        let rows = sqlx::query(
            "SELECT id, catalog, name, comment, created_at, created_by FROM schemas WHERE org_id = $1 AND catalog = $2 ORDER BY name",
        )
        .bind(org_id.to_string())
        .bind(catalog.as_str())
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(schema_from_row).collect::<sqlx::Result<_>>()?)
    }

    /// Drops an empty schema; refuses one that still has tables.
    pub async fn drop_schema(&self, org_id: Uuid, catalog: &Ident, name: &Ident) -> MetaResult<()> {
        let tables: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM tables WHERE org_id = $1 AND catalog = $2 AND schema_name = $3")
                .bind(org_id.to_string())
                .bind(catalog.as_str())
                .bind(name.as_str())
                .fetch_one(self.pool())
                .await?;
        if tables > 0 {
            return Err(MetaError::Conflict(format!(
                "schema `{catalog}.{name}` is not empty: drop its {tables} table(s) first"
            )));
        }
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query("DELETE FROM schemas WHERE org_id = $1 AND catalog = $2 AND name = $3")
            .bind(org_id.to_string())
            .bind(catalog.as_str())
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(MetaError::NotFound);
        }
        forget_grants(&mut tx, org_id, "schema", &format!("{catalog}.{name}")).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Registers a table whose Delta log has just been created at `location`.
    pub async fn register_table(
        &self,
        org_id: Uuid,
        table: &TableRef,
        location: &str,
        by: Uuid,
    ) -> MetaResult<TableEntry> {
        self.register_table_on(org_id, table, location, None, by).await
    }

    /// Registers a table at `location`, on a storage connection or (`None`) in the warehouse.
    pub async fn register_table_on(
        &self,
        org_id: Uuid,
        table: &TableRef,
        location: &str,
        connection_id: Option<Uuid>,
        by: Uuid,
    ) -> MetaResult<TableEntry> {
        if self.get_schema(org_id, &table.catalog, &table.schema).await?.is_none() {
            return Err(MetaError::NotFound);
        }
        let id = Uuid::now_v7();
        let done = sqlx::query(
            "INSERT INTO tables (id, org_id, catalog, schema_name, name, location, connection_id, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id.to_string())
        .bind(org_id.to_string())
        .bind(table.catalog.as_str())
        .bind(table.schema.as_str())
        .bind(table.table.as_str())
        .bind(location)
        .bind(connection_id.map(|c| c.to_string()))
        .bind(now_ms())
        .bind(by.to_string())
        .execute(self.pool())
        .await;
        match done {
            Err(e) if is_unique_violation(&e) => Err(exists(&format!("table `{table}`"))),
            Err(e) => Err(e.into()),
            Ok(_) => self.get_table(org_id, table).await?.ok_or(MetaError::NotFound),
        }
    }

    pub async fn get_table(&self, org_id: Uuid, table: &TableRef) -> MetaResult<Option<TableEntry>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TABLE_COLUMNS} FROM tables WHERE org_id = $1 AND catalog = $2 AND schema_name = $3 AND name = $4"
        )))
        .bind(org_id.to_string())
        .bind(table.catalog.as_str())
        .bind(table.schema.as_str())
        .bind(table.table.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| table_from_row(&r)).transpose().map_err(Into::into)
    }

    /// Tables of an organisation, optionally of one catalog or schema, by name; with the total.
    pub async fn list_tables(
        &self,
        org_id: Uuid,
        catalog: Option<&Ident>,
        schema: Option<&Ident>,
        limit: i64,
        offset: i64,
    ) -> MetaResult<(Vec<TableEntry>, i64)> {
        // An empty string means "any", so one statement serves every combination of filters.
        let filter = "org_id = $1 AND ($2 = '' OR catalog = $2) AND ($3 = '' OR schema_name = $3)";
        let cat = catalog.map(Ident::as_str).unwrap_or("");
        let sch = schema.map(Ident::as_str).unwrap_or("");
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM tables WHERE {filter}")))
            .bind(org_id.to_string())
            .bind(cat)
            .bind(sch)
            .fetch_one(self.pool())
            .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TABLE_COLUMNS} FROM tables WHERE {filter} ORDER BY catalog, schema_name, name LIMIT $4 OFFSET $5"
        )))
        .bind(org_id.to_string())
        .bind(cat)
        .bind(sch)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        Ok((rows.iter().map(table_from_row).collect::<sqlx::Result<_>>()?, total))
    }

    /// Every table of an organisation (for building a SQL catalog).
    pub async fn all_tables(&self, org_id: Uuid) -> MetaResult<Vec<TableEntry>> {
        Ok(self.list_tables(org_id, None, None, i64::MAX, 0).await?.0)
    }

    pub async fn unregister_table(&self, org_id: Uuid, table: &TableRef) -> MetaResult<()> {
        let mut tx = self.pool().begin().await?;
        let done =
            sqlx::query("DELETE FROM tables WHERE org_id = $1 AND catalog = $2 AND schema_name = $3 AND name = $4")
                .bind(org_id.to_string())
                .bind(table.catalog.as_str())
                .bind(table.schema.as_str())
                .bind(table.table.as_str())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(MetaError::NotFound);
        }
        forget_grants(&mut tx, org_id, "table", &table.to_string()).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Grants name objects by name: an object that goes takes its own grants with it, so that
/// one made later under the same name starts with none.
pub(crate) async fn forget_grants(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: Uuid,
    kind: &str,
    name: &str,
) -> MetaResult<()> {
    sqlx::query("DELETE FROM grants WHERE org_id = $1 AND securable_type = $2 AND securable = $3")
        .bind(org_id.to_string())
        .bind(kind)
        .bind(name)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn catalog_from_row(row: &AnyRow) -> sqlx::Result<CatalogEntry> {
    Ok(CatalogEntry {
        id: uuid(row, "id")?,
        name: row.try_get("name")?,
        comment: row.try_get("comment")?,
        created_at: time(row, "created_at")?,
        created_by: opt_uuid(row, "created_by")?,
    })
}

fn schema_from_row(row: &AnyRow) -> sqlx::Result<SchemaEntry> {
    Ok(SchemaEntry {
        id: uuid(row, "id")?,
        catalog: row.try_get("catalog")?,
        name: row.try_get("name")?,
        comment: row.try_get("comment")?,
        created_at: time(row, "created_at")?,
        created_by: opt_uuid(row, "created_by")?,
    })
}
