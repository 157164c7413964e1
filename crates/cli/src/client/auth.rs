//! `lakeward login` and `logout`: a credential checked against the server, then stored in
//! (or removed from) the profiles file.

use std::io::IsTerminal as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use clap::Args;
use serde::Deserialize;
use serde_json::json;

use super::http::{Api, ServerError};
use super::output::print_json;
use super::profile::{Credential, Profile, Profiles};
use super::{Connection, read_stdin};

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// Sign in with this email and its password
    #[arg(long, conflicts_with = "api_key")]
    email: Option<String>,
    /// The password; also from LAKEWARD_PASSWORD, else read from stdin when it is not a
    /// terminal, else asked for
    #[arg(long, env = "LAKEWARD_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Sign in with an API key (`lw_live_...`) instead; it is checked before it is stored
    #[arg(long, env = "LAKEWARD_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    #[command(flatten)]
    pub conn: Connection,
}

#[derive(Debug, Deserialize)]
struct LoginAnswer {
    access_token: String,
    expires_at: Option<String>,
    user: User,
}

#[derive(Debug, Deserialize)]
struct User {
    email: String,
    role: String,
}

#[derive(Debug, Deserialize)]
struct Me {
    email: String,
    role: String,
    auth: MeAuth,
}

#[derive(Debug, Deserialize)]
struct MeAuth {
    method: String,
}

pub async fn login(config_dir: &Path, args: LoginArgs) -> anyhow::Result<()> {
    let mut profiles = Profiles::load(config_dir)?;
    let name = args.conn.profile.clone();
    // Logging in again keeps the profile's server unless another is given.
    let server = args.conn.server.clone().or_else(|| profiles.get(&name).map(|p| p.server.clone()));
    let Some(server) = server else { bail!("give the server to log in to: lakeward login --server URL") };
    let key = args.api_key.clone().or_else(|| if args.email.is_none() { args.conn.token.clone() } else { None });
    let (profile, role) = match (key, &args.email) {
        (Some(token), _) => {
            // A key (or token) is stored only once the server has accepted it.
            let api = Api::new(&server, Some(token.clone()))?;
            let me: Me = api.json(api.get(&["v1", "users", "me"])).await?;
            let credential = if me.auth.method == "session" { Credential::Session } else { Credential::ApiKey };
            let profile = Profile { server: api.server(), token, credential, email: Some(me.email), expires_at: None };
            (profile, me.role)
        }
        (None, Some(email)) => {
            let password = password(args.password.clone())?;
            let api = Api::new(&server, None)?;
            let answer: LoginAnswer = api
                .json(api.post(&["v1", "auth", "login"]).json(&json!({ "email": email, "password": password })))
                .await?;
            let profile = Profile {
                server: api.server(),
                token: answer.access_token,
                credential: Credential::Session,
                email: Some(answer.user.email),
                expires_at: answer.expires_at,
            };
            (profile, answer.user.role)
        }
        (None, None) => bail!("give --email (and a password) or --api-key to log in"),
    };
    let email = profile.email.clone().unwrap_or_default();
    let summary = json!({
        "profile": name,
        "server": profile.server,
        "email": email,
        "role": role,
        "credential": profile.credential,
        "expires_at": profile.expires_at,
        "path": profiles.path().display().to_string(),
    });
    let server = profile.server.clone();
    profiles.set(&name, profile);
    profiles.save()?;
    if args.conn.json {
        print_json(&summary)?;
    } else {
        say!("Logged in to {server} as {email} ({role}); profile `{name}` saved in {}", profiles.path().display())?;
    }
    Ok(())
}

/// The password: given, piped in, or typed without echo.
fn password(given: Option<String>) -> anyhow::Result<String> {
    if let Some(password) = given {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        let text = read_stdin()?;
        // One line: what `echo $PASSWORD |` or a secrets file gives.
        let password = text.strip_suffix('\n').map(|p| p.strip_suffix('\r').unwrap_or(p)).unwrap_or(&text);
        if password.is_empty() {
            bail!("no password on stdin: pipe it in, or give --password / LAKEWARD_PASSWORD");
        }
        return Ok(password.to_owned());
    }
    let term = console::Term::stderr();
    term.write_str("Password: ")?;
    term.read_secure_line().context("cannot read the password")
}

pub async fn logout(config_dir: &Path, args: LogoutArgs) -> anyhow::Result<()> {
    let name = &args.conn.profile;
    let mut profiles = Profiles::load(config_dir)?;
    let Some(profile) = profiles.remove(name) else { bail!("no profile `{name}` to log out of") };
    // A session is ended on the server too; an API key lives on until it is revoked.
    let mut ended_on_server = false;
    let mut warning = None;
    if profile.credential == Credential::Session {
        let api = Api::new(&profile.server, Some(profile.token.clone()))?;
        match api.send(api.post(&["v1", "auth", "logout"])).await {
            Ok(_) => ended_on_server = true,
            // Already expired or revoked: nothing is left to end.
            Err(e) if e.downcast_ref::<ServerError>().is_some_and(|s| s.status == 401) => {}
            Err(e) => warning = Some(format!("{e:#}")),
        }
    }
    profiles.save()?;
    if let Some(warning) = &warning {
        eprintln!("warning: the session could not be ended on the server ({warning}); it ends when it expires");
    }
    if args.conn.json {
        print_json(&json!({ "profile": name, "removed": true, "session_ended": ended_on_server }))?;
    } else {
        say!("Logged out: profile `{name}` removed")?;
    }
    Ok(())
}
