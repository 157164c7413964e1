//! Profiles: the server and credential `lakeward login` stored, by name, in
//! `<config dir>/profiles.toml`. The file holds bearer credentials, so it is readable by
//! its owner only (0600, in a 0700 directory) and replaced atomically: a new file is
//! written beside it with that mode from the start, then renamed over it, so no reader
//! ever sees half a file and the credential is never briefly world-readable.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

const FILE: &str = "profiles.toml";

/// What the stored token is: a session ends with `logout` or its expiry, a key lives on
/// until revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Credential {
    Session,
    ApiKey,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub server: String,
    pub token: String,
    pub credential: Credential,
    /// Who the credential signs in as, for messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A session's end (RFC 3339), so an expired one is named as such.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfilesFile {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// The profiles directory: `LAKEWARD_CONFIG_DIR`, else `$XDG_CONFIG_HOME/lakeward`, else
/// `$HOME/.config/lakeward`. Read once at start and passed down.
pub fn config_dir() -> anyhow::Result<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("LAKEWARD_CONFIG_DIR") {
        return Ok(dir);
    }
    if let Some(dir) = var("XDG_CONFIG_HOME") {
        return Ok(dir.join("lakeward"));
    }
    var("HOME")
        .map(|home| home.join(".config").join("lakeward"))
        .context("no config directory: set LAKEWARD_CONFIG_DIR, XDG_CONFIG_HOME or HOME")
}

#[derive(Debug)]
pub struct Profiles {
    path: PathBuf,
    file: ProfilesFile,
}

impl Profiles {
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(FILE);
        let file = match fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("{} is not a profiles file", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ProfilesFile::default(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(Self { path, file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.file.profiles.get(name)
    }

    pub fn set(&mut self, name: &str, profile: Profile) {
        self.file.profiles.insert(name.to_owned(), profile);
    }

    pub fn remove(&mut self, name: &str) -> Option<Profile> {
        self.file.profiles.remove(name)
    }

    /// Writes the file atomically with mode 0600.
    pub fn save(&self) -> anyhow::Result<()> {
        let dir = self.path.parent().context("the profiles file has a directory")?;
        create_private_dir(dir)?;
        let text = toml::to_string(&self.file)?;
        let temp = dir.join(format!(".{FILE}.{}.tmp", std::process::id()));
        let written = write_private(&temp, text.as_bytes()).and_then(|()| {
            fs::rename(&temp, &self.path).with_context(|| format!("cannot replace {}", self.path.display()))
        });
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).with_context(|| format!("cannot create {}", dir.display()))
}

fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    // A temporary file left by a crashed run is replaced, not appended to.
    let _ = fs::remove_file(path);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_round_trip_in_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/lakeward");
        let mut profiles = Profiles::load(&nested).unwrap();
        assert!(profiles.get("default").is_none());
        let profile = Profile {
            server: "http://localhost:8080".into(),
            token: "secret".into(),
            credential: Credential::Session,
            email: Some("ada@example.com".into()),
            expires_at: None,
        };
        profiles.set("default", profile.clone());
        profiles.set("ci", Profile { credential: Credential::ApiKey, ..profile });
        profiles.save().unwrap();
        let loaded = Profiles::load(&nested).unwrap();
        assert_eq!(loaded.get("default").unwrap().token, "secret");
        assert_eq!(loaded.get("ci").unwrap().credential, Credential::ApiKey);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(loaded.path()), 0o600);
            assert_eq!(mode(&nested), 0o700);
        }
        // Nothing but the file is left in the directory.
        let names: Vec<_> = fs::read_dir(&nested).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from(FILE)]);
    }
}
