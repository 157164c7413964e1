//! `lakeward admin ...`: scripted setup without a running server. Each command writes
//! the same records (and audit events) the API would.

use std::io::BufRead;

use anyhow::{Context, bail};
use chrono::{Duration, Utc};
use clap::{Args, Subcommand};
use lakeward_meta::access::{Role, ScopeSet};
use lakeward_meta::secrets;
use lakeward_meta::store::{NewApiKey, NewAuditEvent};
use lakeward_meta::{EventKind, MetaStore};
use lakeward_server::ServerConfig;
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an organisation and its first admin user.
    CreateOrg {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Add an active user to an organisation.
    CreateUser {
        /// Organisation name or id.
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// viewer, editor, builder or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Create an API key for a user; prints the key (only this once) on stdout.
    CreateApiKey {
        /// The user the key acts for.
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Scopes or presets (read, write, admin), comma-separated [default: all of the user's role]
        #[arg(long, value_delimiter = ',')]
        scopes: Option<Vec<String>>,
        /// 7d, 30d, 90d, 1y or never.
        #[arg(long, default_value = "never")]
        expires_in: String,
    },
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// The password (visible to other local users in the process list; prefer --password-stdin).
    #[arg(long, env = "LAKEWARD_ADMIN_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long, conflicts_with = "password")]
    password_stdin: bool,
}

impl PasswordArgs {
    fn read(&self) -> anyhow::Result<String> {
        let password = match (&self.password, self.password_stdin) {
            (Some(p), _) => p.clone(),
            (None, true) => {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                line.trim_end_matches(['\n', '\r']).to_owned()
            }
            (None, false) => bail!("give --password or --password-stdin"),
        };
        if password.chars().count() < 8 {
            bail!("the password must be at least 8 characters");
        }
        Ok(password)
    }
}

fn system_event(
    org_id: Uuid,
    action: EventKind,
    target_type: &'static str,
    target_id: Uuid,
    details: serde_json::Value,
) -> NewAuditEvent {
    NewAuditEvent {
        org_id: Some(org_id),
        actor_type: "system",
        target_type: Some(target_type),
        target_id: Some(target_id.to_string()),
        details,
        ..NewAuditEvent::new(action)
    }
}

pub async fn run(config: &ServerConfig, command: AdminCommand) -> anyhow::Result<()> {
    let meta = MetaStore::connect(&config.database_url).await?;
    match command {
        AdminCommand::CreateOrg { name, email, password } => {
            let hash = secrets::hash_password(&password.read()?);
            let (org, user) = meta.create_organisation(name.trim(), &email, &hash).await?;
            meta.record_audit(system_event(
                org.id,
                EventKind::AuthOnboard,
                "organisation",
                org.id,
                json!({ "organisation_name": org.name, "email": user.email, "via": "lakeward admin" }),
            ))
            .await?;
            println!("{}", json!({ "organisation_id": org.id, "user_id": user.id }));
        }
        AdminCommand::CreateUser { org, email, role, password } => {
            let role = Role::parse(&role)
                .with_context(|| format!("unknown role `{role}` (viewer, editor, builder, admin)"))?;
            let org = match Uuid::parse_str(&org) {
                Ok(id) => meta.get_organisation(id).await?,
                Err(_) => meta.find_organisation_by_name(&org).await?,
            }
            .with_context(|| format!("no organisation `{org}`"))?;
            let hash = secrets::hash_password(&password.read()?);
            let user = meta.create_user(org.id, &email, role, Some(&hash)).await?;
            meta.record_audit(system_event(
                org.id,
                EventKind::MemberCreated,
                "user",
                user.id,
                json!({ "email": user.email, "role": role.as_str(), "via": "lakeward admin" }),
            ))
            .await?;
            println!("{}", json!({ "organisation_id": org.id, "user_id": user.id }));
        }
        AdminCommand::CreateApiKey { email, name, scopes, expires_in } => {
            let user = meta.find_user_by_email(&email).await?.with_context(|| format!("no user `{email}`"))?;
            let scopes = match scopes {
                Some(names) => ScopeSet::parse(names.iter().map(|s| s.trim()))
                    .map_err(|s| anyhow::anyhow!("unknown scope `{s}`"))?,
                None => user.role.scopes(),
            };
            if let Some(missing) = scopes.iter().find(|s| !user.role.scopes().contains(*s)) {
                bail!("the user's role ({}) does not hold the scope `{missing}`", user.role);
            }
            let expires_at = match expires_in.as_str() {
                "7d" => Some(7),
                "30d" => Some(30),
                "90d" => Some(90),
                "1y" => Some(365),
                "never" => None,
                other => bail!("unknown expiry `{other}` (7d, 30d, 90d, 1y, never)"),
            }
            .map(|days| Utc::now() + Duration::days(days));
            let material = secrets::generate_api_key(&config.secret);
            let key = meta
                .create_api_key(NewApiKey {
                    org_id: user.org_id,
                    user_id: user.id,
                    name: name.trim(),
                    key_prefix: &material.prefix,
                    key_hash: &material.hash,
                    scopes,
                    expires_at,
                })
                .await?;
            meta.record_audit(system_event(user.org_id, EventKind::ApiKeyCreated, "api_key", key.id, json!({ "name": key.name, "key_prefix": key.key_prefix, "scopes": key.scopes.names(), "owner_id": user.id, "via": "lakeward admin" })))
                .await?;
            println!("{}", material.plaintext);
        }
    }
    Ok(())
}
