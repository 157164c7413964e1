//! Grants: privileges on a catalog, schema or table given to a user or a team. A grant
//! holds for the object and everything under it; what a grant may give, and who may
//! give it, is decided by `access` and the caller, not here.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{MetaError, MetaResult, MetaStore, now_ms, opt_uuid, time, uuid};
use crate::access::{Privilege, PrivilegeSet};

/// What a grant is on, by name: `main`, `main.crm` or `main.crm.customers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Securable {
    Catalog(String),
    Schema(String),
    Table(String),
}

impl Securable {
    pub fn kind(&self) -> &'static str {
        match self {
            Securable::Catalog(_) => "catalog",
            Securable::Schema(_) => "schema",
            Securable::Table(_) => "table",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Securable::Catalog(n) | Securable::Schema(n) | Securable::Table(n) => n,
        }
    }

    fn from_parts(kind: &str, name: String) -> Option<Securable> {
        Some(match kind {
            "catalog" => Securable::Catalog(name),
            "schema" => Securable::Schema(name),
            "table" => Securable::Table(name),
            _ => return None,
        })
    }

    /// The object and those above it, whose grants hold for it.
    pub fn with_ancestors(&self) -> Vec<Securable> {
        let parts: Vec<&str> = self.name().split('.').collect();
        let mut all = vec![Securable::Catalog(parts[0].to_owned())];
        if parts.len() > 1 {
            all.push(Securable::Schema(parts[..2].join(".")));
        }
        if parts.len() > 2 {
            all.push(Securable::Table(parts.join(".")));
        }
        all
    }
}

/// Who a grant is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grantee {
    User(Uuid),
    Team(Uuid),
}

impl Grantee {
    pub fn kind(self) -> &'static str {
        match self {
            Grantee::User(_) => "user",
            Grantee::Team(_) => "team",
        }
    }

    pub fn id(self) -> Uuid {
        match self {
            Grantee::User(id) | Grantee::Team(id) => id,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub id: Uuid,
    pub securable: Securable,
    pub grantee: Grantee,
    pub privilege: Privilege,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

const COLUMNS: &str = "id, securable_type, securable, grantee_type, grantee_id, privilege, created_at, created_by";

fn decode<E: std::error::Error + Send + Sync + 'static>(e: E) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

fn from_row(row: &AnyRow) -> sqlx::Result<Grant> {
    let bad = |what: &str| decode(std::io::Error::other(format!("unknown {what} in grants")));
    let kind: String = row.try_get("securable_type")?;
    let grantee_id = uuid(row, "grantee_id")?;
    let grantee = match row.try_get::<String, _>("grantee_type")?.as_str() {
        "user" => Grantee::User(grantee_id),
        "team" => Grantee::Team(grantee_id),
        _ => return Err(bad("grantee type")),
    };
    let privilege: String = row.try_get("privilege")?;
    Ok(Grant {
        id: uuid(row, "id")?,
        securable: Securable::from_parts(&kind, row.try_get("securable")?).ok_or_else(|| bad("securable type"))?,
        grantee,
        privilege: Privilege::parse(&privilege).ok_or_else(|| bad("privilege"))?,
        created_at: time(row, "created_at")?,
        created_by: opt_uuid(row, "created_by")?,
    })
}

/// Which grants [`MetaStore::list_grants`] lists.
#[derive(Debug, Clone, Default)]
pub struct GrantFilter {
    /// Grants on this object and above it (those that hold for it).
    pub on: Option<Securable>,
    pub grantee: Option<Grantee>,
}

impl MetaStore {
    /// Grants `privileges` on `securable` to `grantee`, one grant each; privileges it
    /// holds already are left as they are. The grantee must be of the organisation.
    /// Answers the grants as they now are for that object and grantee.
    pub async fn grant(
        &self,
        org_id: Uuid,
        securable: &Securable,
        grantee: Grantee,
        privileges: PrivilegeSet,
        by: Uuid,
    ) -> MetaResult<Vec<Grant>> {
        let exists = match grantee {
            Grantee::User(id) => self.get_user(id).await?.is_some_and(|u| u.org_id == org_id),
            Grantee::Team(id) => self.get_team(org_id, id).await?.is_some(),
        };
        if !exists {
            return Err(MetaError::NotFound);
        }
        let mut tx = self.pool().begin().await?;
        for privilege in privileges.iter() {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO grants ({COLUMNS}, org_id) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
                 WHERE NOT EXISTS (SELECT 1 FROM grants WHERE org_id = $9 AND securable_type = $2 AND securable = $3 \
                 AND grantee_type = $4 AND grantee_id = $5 AND privilege = $6)"
            )))
            .bind(Uuid::now_v7().to_string())
            .bind(securable.kind())
            .bind(securable.name())
            .bind(grantee.kind())
            .bind(grantee.id().to_string())
            .bind(privilege.as_str())
            .bind(now_ms())
            .bind(by.to_string())
            .bind(org_id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let all = self.list_grants(org_id, &GrantFilter { on: None, grantee: Some(grantee) }).await?;
        Ok(all.into_iter().filter(|g| g.securable == *securable).collect())
    }

    pub async fn get_grant(&self, org_id: Uuid, id: Uuid) -> MetaResult<Option<Grant>> {
        let row =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM grants WHERE org_id = $1 AND id = $2")))
                .bind(org_id.to_string())
                .bind(id.to_string())
                .fetch_optional(self.pool())
                .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Removes one grant; answers it.
    pub async fn revoke_grant(&self, org_id: Uuid, id: Uuid) -> MetaResult<Grant> {
        let grant = self.get_grant(org_id, id).await?.ok_or(MetaError::NotFound)?;
        sqlx::query("DELETE FROM grants WHERE org_id = $1 AND id = $2")
            .bind(org_id.to_string())
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(grant)
    }

    /// Grants of the organisation, by object, grantee and privilege.
    pub async fn list_grants(&self, org_id: Uuid, filter: &GrantFilter) -> MetaResult<Vec<Grant>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM grants WHERE org_id = $1 ORDER BY securable, grantee_type, grantee_id, privilege"
        )))
        .bind(org_id.to_string())
        .fetch_all(self.pool())
        .await?;
        let on = filter.on.as_ref().map(Securable::with_ancestors);
        Ok(rows
            .iter()
            .map(from_row)
            .collect::<sqlx::Result<Vec<_>>>()?
            .into_iter()
            .filter(|g| on.as_ref().is_none_or(|on| on.contains(&g.securable)))
            .filter(|g| filter.grantee.is_none_or(|who| g.grantee == who))
            .collect())
    }

    /// The privileges granted on `securable` or above it to the user or a team of theirs.
    pub async fn granted_privileges(
        &self,
        org_id: Uuid,
        user_id: Uuid,
        securable: &Securable,
    ) -> MetaResult<PrivilegeSet> {
        let objects = securable.with_ancestors();
        let mut sql = String::from(
            "SELECT g.privilege FROM grants g WHERE g.org_id = $1 AND (\
             (g.grantee_type = 'user' AND g.grantee_id = $2) OR (g.grantee_type = 'team' AND g.grantee_id IN \
             (SELECT m.team_id FROM team_members m WHERE m.user_id = $2))) AND (",
        );
        for (i, _) in objects.iter().enumerate() {
            if i > 0 {
                sql.push_str(" OR ");
            }
            sql.push_str(&format!("(g.securable_type = ${} AND g.securable = ${})", 3 + 2 * i, 4 + 2 * i));
        }
        sql.push(')');
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org_id.to_string()).bind(user_id.to_string());
        for object in &objects {
            query = query.bind(object.kind()).bind(object.name().to_owned());
        }
        let rows = query.fetch_all(self.pool()).await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>("privilege").ok())
            .filter_map(|p| Privilege::parse(&p))
            .collect())
    }
}
