//! Teams: named groups of an organisation's members, which grants can name.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{MetaError, MetaResult, MetaStore, is_unique_violation, now_ms, opt_uuid, time, uuid};

#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub member_count: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

const SELECT: &str = "SELECT t.id, t.org_id, t.name, t.description, t.created_at, t.created_by, \
     (SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id) AS member_count FROM teams t";

fn from_row(row: &AnyRow) -> sqlx::Result<Team> {
    Ok(Team {
        id: uuid(row, "id")?,
        org_id: uuid(row, "org_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        member_count: row.try_get("member_count")?,
        created_at: time(row, "created_at")?,
        created_by: opt_uuid(row, "created_by")?,
    })
}

fn taken(name: &str) -> MetaError {
    MetaError::Conflict(format!("a team named `{name}` already exists"))
}

impl MetaStore {
    pub async fn create_team(&self, org_id: Uuid, name: &str, description: Option<&str>, by: Uuid) -> MetaResult<Team> {
        let id = Uuid::now_v7();
        let inserted = sqlx::query(
            "INSERT INTO teams (id, org_id, name, description, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(org_id.to_string())
        .bind(name)
        .bind(description)
        .bind(now_ms())
        .bind(by.to_string())
        .execute(self.pool())
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(taken(name)),
            other => other?,
        };
        self.get_team(org_id, id).await?.ok_or(MetaError::NotFound)
    }

    pub async fn get_team(&self, org_id: Uuid, id: Uuid) -> MetaResult<Option<Team>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE t.org_id = $1 AND t.id = $2")))
            .bind(org_id.to_string())
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    pub async fn list_teams(&self, org_id: Uuid) -> MetaResult<Vec<Team>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE t.org_id = $1 ORDER BY t.name")))
            .bind(org_id.to_string())
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(from_row).collect::<sqlx::Result<_>>()?)
    }

    /// Renames a team or changes its description (`None` leaves a field as it is).
    pub async fn update_team(
        &self,
        org_id: Uuid,
        id: Uuid,
        name: Option<&str>,
        description: Option<Option<&str>>,
    ) -> MetaResult<Team> {
        let current = self.get_team(org_id, id).await?.ok_or(MetaError::NotFound)?;
        let name = name.unwrap_or(&current.name);
        let description = description.unwrap_or(current.description.as_deref());
        let updated = sqlx::query("UPDATE teams SET name = $1, description = $2 WHERE org_id = $3 AND id = $4")
            .bind(name)
            .bind(description)
            .bind(org_id.to_string())
            .bind(id.to_string())
            .execute(self.pool())
            .await;
        match updated {
            Err(e) if is_unique_violation(&e) => return Err(taken(name)),
            other => other?,
        };
        self.get_team(org_id, id).await?.ok_or(MetaError::NotFound)
    }

    /// Deletes a team with its memberships and every grant naming it, in one transaction.
    pub async fn delete_team(&self, org_id: Uuid, id: Uuid) -> MetaResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM grants WHERE org_id = $1 AND grantee_type = 'team' AND grantee_id = $2")
            .bind(org_id.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM team_members WHERE team_id IN (SELECT id FROM teams WHERE org_id = $1 AND id = $2)")
            .bind(org_id.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM teams WHERE org_id = $1 AND id = $2")
            .bind(org_id.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(MetaError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds a member of the same organisation to a team; `false` when already in it.
    pub async fn add_team_member(&self, org_id: Uuid, team_id: Uuid, user_id: Uuid) -> MetaResult<bool> {
        let inserted = sqlx::query(
            "INSERT INTO team_members (team_id, user_id, added_at) \
             SELECT t.id, u.id, $1 FROM teams t, users u \
             WHERE t.org_id = $2 AND t.id = $3 AND u.org_id = $2 AND u.id = $4 \
             AND NOT EXISTS (SELECT 1 FROM team_members m WHERE m.team_id = t.id AND m.user_id = u.id)",
        )
        .bind(now_ms())
        .bind(org_id.to_string())
        .bind(team_id.to_string())
        .bind(user_id.to_string())
        .execute(self.pool())
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(true);
        }
        self.get_team(org_id, team_id).await?.ok_or(MetaError::NotFound)?;
        match self.get_user(user_id).await? {
            Some(user) if user.org_id == org_id => Ok(false),
            _ => Err(MetaError::NotFound),
        }
    }

    pub async fn remove_team_member(&self, org_id: Uuid, team_id: Uuid, user_id: Uuid) -> MetaResult<()> {
        let deleted = sqlx::query(
            "DELETE FROM team_members WHERE user_id = $1 AND team_id IN (SELECT id FROM teams WHERE org_id = $2 AND id = $3)",
        )
        .bind(user_id.to_string())
        .bind(org_id.to_string())
        .bind(team_id.to_string())
        .execute(self.pool())
        .await?;
        if deleted.rows_affected() == 0 { Err(MetaError::NotFound) } else { Ok(()) }
    }

    /// The ids of a team's members, by when they were added.
    pub async fn team_members(&self, org_id: Uuid, team_id: Uuid) -> MetaResult<Vec<Uuid>> {
        self.get_team(org_id, team_id).await?.ok_or(MetaError::NotFound)?;
        let rows = sqlx::query("SELECT user_id FROM team_members WHERE team_id = $1 ORDER BY added_at, user_id")
            .bind(team_id.to_string())
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(|r| uuid(r, "user_id")).collect::<sqlx::Result<_>>()?)
    }
}
