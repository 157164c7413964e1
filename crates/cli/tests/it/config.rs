use serde_json::Value;

use crate::support::{lakeward, run_ok};

fn config(cmd: &mut std::process::Command) -> Value {
    serde_json::from_str(&run_ok(cmd.arg("config"))).unwrap()
}

#[test]
fn defaults_give_an_embedded_server_on_a_local_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(&mut lakeward(dir.path()));
    let data = dir.path().canonicalize().unwrap().join("lakeward-data");
    assert_eq!(c["listen"], "127.0.0.1:8080");
    assert_eq!(c["data_dir"], data.display().to_string());
    assert_eq!(c["warehouse"], format!("file://{}/warehouse/", data.display()));
    assert_eq!(c["database_url"], format!("sqlite://{}/lakeward.db?mode=rwc", data.display()));
    assert_eq!(c["allow_signup"], false);
    assert_eq!(c["metrics_public"], false);
    assert_eq!(c["limits"]["rate_limit_per_minute"], 60);
    assert_eq!(c["limits"]["auth_rate_limit_per_minute"], 10);
    assert_eq!(
        c["webhooks"],
        serde_json::json!({ "timeout_secs": 10, "retry_secs": 5, "max_attempts": 8, "allow_private_targets": false })
    );
    // The secret was generated once, kept private, and is never printed.
    let secret = data.join("secret.key");
    let text = std::fs::read_to_string(&secret).unwrap();
    assert_eq!(text.len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600);
    }
    config(&mut lakeward(dir.path()));
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), text, "kept across starts");
    assert!(!run_ok(lakeward(dir.path()).arg("config")).contains(&text));
}

#[test]
fn file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lakeward.toml"),
        "listen = \"127.0.0.1:7001\"\nallow_signup = true\nmetrics_public = true\n[limits]\nrate_limit_per_minute = 11\nauth_rate_limit_per_minute = 5\nmax_body_bytes = 2048\n[webhooks]\nmax_attempts = 3\nallow_private_targets = true\n",
    )
    .unwrap();
    let from_file = config(&mut lakeward(dir.path()));
    assert_eq!(from_file["listen"], "127.0.0.1:7001");
    assert_eq!(from_file["allow_signup"], true);
    assert_eq!(from_file["metrics_public"], true);
    assert_eq!(from_file["limits"]["rate_limit_per_minute"], 11);
    assert_eq!(from_file["limits"]["max_body_bytes"], 2048);
    assert_eq!(from_file["webhooks"]["max_attempts"], 3);
    assert_eq!(from_file["webhooks"]["allow_private_targets"], true);

    let from_env = config(
        lakeward(dir.path()).env("LAKEWARD_LISTEN", "127.0.0.1:7002").env("LAKEWARD_RATE_LIMIT_PER_MINUTE", "22"),
    );
    assert_eq!(from_env["listen"], "127.0.0.1:7002");
    assert_eq!(from_env["limits"]["rate_limit_per_minute"], 22);
    assert_eq!(from_env["limits"]["auth_rate_limit_per_minute"], 5, "the file still applies where env is silent");
    let private = config(lakeward(dir.path()).env("LAKEWARD_WEBHOOK_ALLOW_PRIVATE_TARGETS", "false"));
    assert_eq!(private["webhooks"]["allow_private_targets"], false);
    let private = config(
        lakeward(dir.path())
            .env("LAKEWARD_WEBHOOK_ALLOW_PRIVATE_TARGETS", "false")
            .args(["--webhook-allow-private-targets", "true"]),
    );
    assert_eq!(private["webhooks"]["allow_private_targets"], true);
    let metrics = config(lakeward(dir.path()).env("LAKEWARD_METRICS_PUBLIC", "false"));
    assert_eq!(metrics["metrics_public"], false);
    // A bare flag means true, before or after the subcommand.
    let metrics = config(lakeward(dir.path()).env("LAKEWARD_METRICS_PUBLIC", "false").arg("--metrics-public"));
    assert_eq!(metrics["metrics_public"], true);
    let metrics = config(lakeward(dir.path()).args(["--metrics-public=false"]));
    assert_eq!(metrics["metrics_public"], false);
    let after: Value =
        serde_json::from_str(&run_ok(lakeward(dir.path()).args(["config", "--metrics-public"]))).unwrap();
    assert_eq!(after["metrics_public"], true);

    let from_flags = config(lakeward(dir.path()).env("LAKEWARD_LISTEN", "127.0.0.1:7002").args([
        "--listen",
        "127.0.0.1:7003",
        "--rate-limit-per-minute",
        "33",
        "--trusted-proxies",
        "10.0.0.0/8,192.0.2.1/32",
        "--webhook-timeout-secs",
        "2",
    ]));
    assert_eq!(from_flags["webhooks"]["timeout_secs"], 2);
    assert_eq!(from_flags["listen"], "127.0.0.1:7003");
    assert_eq!(from_flags["limits"]["rate_limit_per_minute"], 33);
    assert_eq!(from_flags["trusted_proxies"], serde_json::json!(["10.0.0.0/8", "192.0.2.1/32"]));
}

#[test]
fn bad_configuration_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("typo.toml"), "lisen = \"127.0.0.1:1\"\n").unwrap();
    let out = lakeward(dir.path()).args(["--config", "typo.toml", "config"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid config file typo.toml") && stderr.contains("unknown field `lisen`"), "{stderr}");

    let out = lakeward(dir.path()).args(["--secret", "short", "config"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32 characters"));
    let out = lakeward(dir.path()).args(["--warehouse", "ftp://x/y", "config"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported warehouse scheme `ftp`"));
    let out = lakeward(dir.path()).args(["--config", "missing.toml", "config"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config file missing.toml"));
}

#[test]
fn serve_help_documents_every_option() {
    let dir = tempfile::tempdir().unwrap();
    let help = run_ok(lakeward(dir.path()).args(["serve", "--help"]));
    for option in [
        "--config",
        "--data-dir",
        "--listen",
        "--warehouse",
        "--database-url",
        "--secret",
        "--allow-signup",
        "--session-ttl-secs",
        "--invite-ttl-secs",
        "--trusted-proxies",
        "--max-body-bytes",
        "--max-upload-bytes",
        "--rate-limit-per-minute",
        "--auth-rate-limit-per-minute",
        "--query-timeout-secs",
        "--memory-limit-mb",
        "--metrics-public",
    ] {
        assert!(help.contains(option), "{option} missing from:\n{help}");
        let env = format!("LAKEWARD_{}", option.trim_start_matches("--").replace('-', "_").to_uppercase());
        assert!(help.contains(&env), "{env} missing");
    }
}

/// With `--migrate-on-start false` the server refuses an outdated database and names the
/// command that updates it; `lakeward migrate` applies the migrations once.
#[test]
fn migrations_apply_at_start_or_by_the_migrate_command() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    let out = lakeward(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--flight-listen", "off", "--migrate-on-start", "false"])
        .args(["--metadata-url", &url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lacks 9 migration(s) of this release: run `lakeward migrate` first"), "{stderr}");
    let first = run_ok(lakeward(dir.path()).args(["migrate", "--metadata-url", &url]));
    assert_eq!(first, "metadata migrations: 9 applied (9 new)\n");
    let again = run_ok(lakeward(dir.path()).args(["migrate", "--metadata-url", &url]));
    assert_eq!(again, "metadata migrations: 9 applied (0 new)\n");
    // The old name of the setting still works, and a password is never printed.
    let c = config(lakeward(dir.path()).env("LAKEWARD_DATABASE_URL", "postgres://u:secret@db.example:5432/lw"));
    assert_eq!(c["database_url"], "postgres://u:***@db.example:5432/lw");
    let c = config(lakeward(dir.path()).env("LAKEWARD_METADATA_URL", &url));
    assert_eq!((c["database_url"].as_str(), c["migrate_on_start"].as_bool()), (Some(url.as_str()), Some(true)));
}
