//! The command-line client, run as a user runs it: the built `lakeward` binary against a
//! real server (`lakeward serve` on port 0), with its profiles in a temporary directory
//! and stdin, stdout and stderr pipes (never terminals).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};

use crate::support::{Served, lakeward};

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse";

/// A server with an organisation, `main.crm.people` (`id` primary key, `name`) holding
/// Ada and Grace, and an empty profiles directory.
struct Setup {
    dir: tempfile::TempDir,
    served: Served,
    config: PathBuf,
    token: String,
    http: reqwest::Client,
}

/// What a run of the client printed, and how it exited.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }
}

impl Setup {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let served = Served::start(
            dir.path(),
            &["--flight-listen", "off", "--rate-limit-per-minute", "100000", "--auth-rate-limit-per-minute", "1000"],
        );
        let http = reqwest::Client::new();
        let onboard = json!({ "email": EMAIL, "password": PASSWORD, "organisation_name": "Acme" });
        let onboarded: Value =
            http.post(served.url("/v1/auth/onboard")).json(&onboard).send().await.unwrap().json().await.unwrap();
        let token = onboarded["access_token"].as_str().unwrap().to_owned();
        let config = dir.path().join("config");
        let setup = Self { dir, served, config, token, http };
        let people = json!({ "columns": [{ "name": "id", "type": "int64", "nullable": false }, { "name": "name", "type": "string" }],
                             "primary_key": ["id"] });
        for (path, body) in [
            ("/v1/catalogs", json!({ "name": "main" })),
            ("/v1/catalogs/main/schemas", json!({ "name": "crm" })),
            ("/v1/tables/main/crm/people", people),
            ("/v1/tables/main/crm/people/rows", json!([{ "id": 1, "name": "Ada" }, { "id": 2, "name": "Grace" }])),
        ] {
            let res =
                setup.http.post(setup.served.url(path)).bearer_auth(&setup.token).json(&body).send().await.unwrap();
            assert!(res.status().is_success(), "{path}: {}", res.text().await.unwrap());
        }
        setup
    }

    fn server(&self) -> String {
        format!("http://{}", self.served.addr)
    }

    /// The client with `args`, `stdin` piped in (or none).
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut command = lakeward(self.dir.path());
        command
            .args(args)
            .env("LAKEWARD_CONFIG_DIR", &self.config)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        if let Some(text) = stdin {
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap(),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    /// `lakeward login` with the password on stdin, into the default profile.
    fn login(&self) -> Run {
        self.run(&["login", "--server", &self.server(), "--email", EMAIL], Some(&format!("{PASSWORD}\n"))).ok()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        let res = self.http.get(self.served.url(path)).bearer_auth(&self.token).send().await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res
    }

    async fn get_json(&self, path: &str) -> Value {
        self.get(path).await.json().await.unwrap()
    }

    async fn sql(&self, query: &str) -> Value {
        let res = self.http.post(self.served.url("/v1/sql")).bearer_auth(&self.token).json(&json!({ "query": query }));
        res.send().await.unwrap().json::<Value>().await.unwrap()
    }

    fn profiles_file(&self) -> PathBuf {
        self.config.join("profiles.toml")
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `login` checks the password with the server and stores the session in a file only its
/// owner may read; `tables` then works with that profile alone, an API key logs in to a
/// second profile, and `logout` ends the session on the server and removes the profile.
#[tokio::test]
async fn login_stores_a_private_profile_that_later_commands_use() {
    let s = Setup::start().await;
    let login = s.login();
    assert_eq!(
        login.stdout,
        format!(
            "Logged in to {} as {EMAIL} (admin); profile `default` saved in {}\n",
            s.server(),
            s.profiles_file().display()
        )
    );
    assert_eq!(login.stderr, "");
    assert_eq!(mode(&s.profiles_file()), 0o600);
    assert_eq!(mode(&s.config), 0o700);
    let stored: toml::Table = std::fs::read_to_string(s.profiles_file()).unwrap().parse().unwrap();
    let profile = &stored["profiles"]["default"];
    assert_eq!(profile["server"].as_str(), Some(s.server().as_str()));
    assert_eq!(profile["credential"].as_str(), Some("session"));
    let session = profile["token"].as_str().unwrap().to_owned();

    let tables = s.run(&["tables"], None).ok();
    let listed = s.get_json("/v1/tables?limit=1000").await;
    let created_at = listed["tables"][0]["created_at"].as_str().unwrap();
    let rule = "-".repeat(created_at.len());
    assert_eq!(
        tables.stdout,
        format!("table            created_at\n---------------  {rule}\nmain.crm.people  {created_at}\n(1 table)\n")
    );
    let as_json: Value = serde_json::from_str(&s.run(&["tables", "--json"], None).ok().stdout).unwrap();
    assert_eq!(as_json, listed);

    // An API key is checked before it is stored, in a profile of its own.
    let key: Value = s
        .http
        .post(s.served.url("/v1/api-keys"))
        .bearer_auth(&s.token)
        .json(&json!({ "name": "cli", "scopes": ["read"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap();
    let login = s.run(&["login", "--profile", "ci", "--server", &s.server(), "--api-key", key, "--json"], None).ok();
    let summary: Value = serde_json::from_str(&login.stdout).unwrap();
    assert_eq!(
        (&summary["profile"], &summary["email"], &summary["credential"]),
        (&json!("ci"), &json!(EMAIL), &json!("api_key"))
    );
    let describe = s.run(&["describe", "main.crm.people", "--profile", "ci", "--json"], None).ok();
    assert_eq!(serde_json::from_str::<Value>(&describe.stdout).unwrap()["num_rows"], 2);
    let bad_key = s.run(&["login", "--profile", "bad", "--server", &s.server(), "--api-key", "lw_live_nope"], None);
    assert_eq!((bad_key.code, bad_key.stderr.as_str()), (1, "error: Invalid or expired token (HTTP 401)\n"));

    let logout = s.run(&["logout"], None).ok();
    assert_eq!(logout.stdout, "Logged out: profile `default` removed\n");
    let me = s.http.get(s.served.url("/v1/users/me")).bearer_auth(&session).send().await.unwrap();
    assert_eq!(me.status(), 401, "the session was ended on the server");
    let after = s.run(&["tables"], None);
    assert_eq!(
        (after.code, after.stdout.as_str(), after.stderr.as_str()),
        (1, "", "error: not logged in: run `lakeward login --server URL` first, or give --server and --token\n")
    );
    // The other profile is untouched.
    assert_eq!(s.run(&["tables", "--profile", "ci"], None).ok().stdout.lines().last(), Some("(1 table)"));
}

/// `sql` prints exactly the rows the server answers: as a table, CSV, a JSON array (in the
/// columns' order), or the server's whole JSON answer with `--json`.
#[tokio::test]
async fn sql_prints_the_exact_rows_in_each_format() {
    let s = Setup::start().await;
    s.login();
    let query = "SELECT name, id * 10 AS tens FROM main.crm.people ORDER BY id";
    let table = s.run(&["sql", query], None).ok();
    assert_eq!(table.stdout, "name   tens\n-----  ----\nAda      10\nGrace    20\n(2 rows)\n");
    let csv = s.run(&["sql", query, "--format", "csv"], None).ok();
    assert_eq!(csv.stdout, "name,tens\nAda,10\nGrace,20\n");
    let ndjson = s.run(&["sql", query, "--format", "ndjson"], None).ok();
    assert_eq!(ndjson.stdout, "{\"name\":\"Ada\",\"tens\":10}\n{\"name\":\"Grace\",\"tens\":20}\n");
    let rows = s.run(&["sql", query, "--format", "json"], None).ok();
    assert_eq!(
        serde_json::from_str::<Value>(&rows.stdout).unwrap(),
        json!([{ "name": "Ada", "tens": 10 }, { "name": "Grace", "tens": 20 }])
    );
    assert!(rows.stdout.find("\"name\"").unwrap() < rows.stdout.find("\"tens\"").unwrap(), "{}", rows.stdout);
    let whole: Value = serde_json::from_str(&s.run(&["sql", query, "--json"], None).ok().stdout).unwrap();
    assert_eq!(whole["rows"], json!([{ "name": "Ada", "tens": 10 }, { "name": "Grace", "tens": 20 }]));
    assert_eq!(whole["columns"], json!([{ "name": "name", "type": "string" }, { "name": "tens", "type": "int64" }]));
    assert_eq!(whole["affected_tables"], json!(["main.crm.people"]));
    // The query may come from stdin.
    let piped = s.run(&["sql", "-", "--format", "csv"], Some("SELECT count(*) AS n FROM main.crm.people")).ok();
    assert_eq!(piped.stdout, "n\n2\n");
}

/// An import uploads the file and follows its job; on a pipe, progress is plain lines,
/// each at least 10 points on, both ending at 100%; the table then holds every row.
#[tokio::test]
async fn import_shows_progress_on_a_pipe_and_the_table_gets_every_row() {
    let s = Setup::start().await;
    s.login();
    let mut csv = String::from("id,city,score\n");
    for i in 0..60_000 {
        csv.push_str(&format!("{i},city number {},{}.5\n", i % 97, i % 1000));
    }
    let file = s.dir.path().join("scores.csv");
    std::fs::write(&file, &csv).unwrap();
    let run =
        s.run(&["import", file.to_str().unwrap(), "--table", "main.crm.scores", "--primary-key", "id"], None).ok();
    let table = s.get_json("/v1/tables/main/crm/scores").await;
    assert_eq!(table["num_rows"], 60_000);
    assert_eq!(run.stdout, format!("Imported 60000 rows into main.crm.scores (version {})\n", table["version"]));
    assert_eq!(
        s.sql("SELECT count(*) AS n, sum(id) AS s FROM main.crm.scores").await["rows"],
        json!([{ "n": 60_000, "s": 1_799_970_000 }])
    );

    let mut lines: Vec<(&str, u64)> = Vec::new();
    for line in run.stderr.lines() {
        let (label, percent) = line.split_once(' ').unwrap_or_else(|| panic!("not a progress line: {line:?}"));
        let percent = percent.strip_suffix('%').and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{line:?}"));
        lines.push((label, percent));
    }
    let upload: Vec<u64> = lines.iter().filter(|(l, _)| *l == "upload").map(|(_, p)| *p).collect();
    let import: Vec<u64> = lines.iter().filter(|(l, _)| *l == "import").map(|(_, p)| *p).collect();
    assert_eq!(upload.len() + import.len(), lines.len(), "{}", run.stderr);
    let first_import = lines.iter().position(|(l, _)| *l == "import").unwrap();
    assert!(lines[..first_import].iter().all(|(l, _)| *l == "upload"), "the upload ends first: {}", run.stderr);
    // The file is read in chunks of 256 KiB: more than one line on the way to 100%.
    assert!(upload.len() >= 2, "{}", run.stderr);
    for percents in [&upload, &import] {
        assert_eq!(percents.last(), Some(&100), "{}", run.stderr);
        assert!(percents.windows(2).all(|w| w[1] >= w[0] + 10 || w[1] == 100), "{}", run.stderr);
    }

    // The job is listed, and watching it again shows its end.
    let jobs: Value = serde_json::from_str(&s.run(&["jobs", "--json"], None).ok().stdout).unwrap();
    assert_eq!(
        (&jobs[0]["kind"], &jobs[0]["status"], &jobs[0]["target"]),
        (&json!("import"), &json!("succeeded"), &json!("main.crm.scores"))
    );
    let id = jobs[0]["id"].as_str().unwrap();
    let watch = s.run(&["jobs", "watch", id], None).ok();
    assert_eq!(
        watch.stdout,
        format!("Job {id} (import) succeeded: 60000 rows written, version {}\n", table["version"])
    );
    assert_eq!(watch.stderr, "import 100%\n");
    let cancel = s.run(&["jobs", "cancel", id], None);
    assert_eq!(
        (cancel.code, cancel.stderr.as_str()),
        (1, "error: the job has already ended: it is succeeded (HTTP 409)\n")
    );

    // A file the table refuses fails the job: the client says why and exits non-zero.
    std::fs::write(&file, "id,city,score\n1,x,1.0\n1,y,2.0\n").unwrap();
    let failed = s.run(&["import", file.to_str().unwrap(), "--table", "main.crm.scores"], None);
    assert_eq!(failed.code, 1, "{failed:?}");
    let jobs = s.get_json("/v1/jobs?status=failed").await;
    let message = jobs[0]["error"]["message"].as_str().unwrap();
    assert!(failed.stderr.contains(&format!("error: the import failed: {message}\n")), "{}", failed.stderr);
    assert_eq!(s.get_json("/v1/tables/main/crm/scores").await["num_rows"], 60_000);
}

/// `export` streams the table to the file: the very bytes `GET .../export` answers.
#[tokio::test]
async fn export_writes_the_bytes_the_rest_export_answers() {
    let s = Setup::start().await;
    s.login();
    for format in ["parquet", "csv"] {
        let file = s.dir.path().join(format!("people.{format}"));
        let run = s.run(&["export", "main.crm.people", "--format", format, "-o", file.to_str().unwrap()], None).ok();
        let rest = s.get(&format!("/v1/tables/main/crm/people/export?format={format}")).await.bytes().await.unwrap();
        let written = std::fs::read(&file).unwrap();
        assert_eq!(written, rest.to_vec(), "{format}");
        assert_eq!(
            run.stdout,
            format!("Exported main.crm.people to {} ({format}, {} B)\n", file.display(), written.len())
        );
        assert_eq!(run.stderr, "download 100%\n");
    }
    assert_eq!(std::fs::read_to_string(s.dir.path().join("people.csv")).unwrap(), "id,name\n1,Ada\n2,Grace\n");
    let to_stdout = s.run(&["export", "main.crm.people", "--format", "ndjson", "-o", "-"], None).ok();
    assert_eq!(to_stdout.stdout, "{\"id\":1,\"name\":\"Ada\"}\n{\"id\":2,\"name\":\"Grace\"}\n");
    let json = s.run(&["export", "main.crm.people", "-o", "x.csv", "--json"], None).ok();
    assert_eq!(
        serde_json::from_str::<Value>(&json.stdout).unwrap(),
        json!({ "table": "main.crm.people", "format": "csv", "file": "x.csv", "bytes": 22 })
    );
    // Only the files asked for: no partial file is left beside them.
    let mut names: Vec<String> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["config", "lakeward-data", "people.csv", "people.parquet", "x.csv"]);
}

/// `rows insert` sends a file as its extension says; `rows get` reads with filters, order
/// and columns, in any format.
#[tokio::test]
async fn rows_are_inserted_from_files_and_read_with_filters() {
    let s = Setup::start().await;
    s.login();
    let json_file = s.dir.path().join("more.json");
    std::fs::write(&json_file, r#"[{"id": 3, "name": "Linus"}, {"id": 4, "name": "Barbara"}]"#).unwrap();
    let insert = s.run(&["rows", "insert", "main.crm.people", "--file", json_file.to_str().unwrap()], None).ok();
    let version = s.get_json("/v1/tables/main/crm/people").await["version"].clone();
    assert_eq!(insert.stdout, format!("Inserted 2 rows into main.crm.people (version {version})\n"));
    assert_eq!(insert.stderr, "upload 100%\n");
    let csv_file = s.dir.path().join("more.csv");
    std::fs::write(&csv_file, "id,name\n5,Edsger\n").unwrap();
    let insert =
        s.run(&["rows", "insert", "main.crm.people", "--file", csv_file.to_str().unwrap(), "--json"], None).ok();
    let summary: Value = serde_json::from_str(&insert.stdout).unwrap();
    assert_eq!((&summary["rows"], &summary["replayed"]), (&json!(1), &json!(false)));

    let get =
        s.run(&["rows", "get", "main.crm.people", "-f", "id=gte.3", "--order", "id.desc", "--format", "csv"], None);
    assert_eq!(get.ok().stdout, "id,name\n5,Edsger\n4,Barbara\n3,Linus\n");
    let get = s.run(
        &["rows", "get", "main.crm.people", "--filter", "name=like.*a", "--select", "name,id", "--order", "id"],
        None,
    );
    assert_eq!(get.ok().stdout, "name     id\n-------  --\nAda       1\nBarbara   4\n(2 rows)\n");
    let get = s
        .run(
            &["rows", "get", "main.crm.people", "--filter", "or=(id.eq.1,name.eq.Linus)", "--order", "id", "--json"],
            None,
        )
        .ok();
    assert_eq!(
        serde_json::from_str::<Value>(&get.stdout).unwrap(),
        json!([{ "id": 1, "name": "Ada" }, { "id": 3, "name": "Linus" }])
    );
    let none = s.run(&["rows", "get", "main.crm.people", "-f", "id=eq.99"], None).ok();
    assert_eq!(none.stdout, "(0 rows)\n");

    // What the server refuses, it says why, naming the field.
    let dup = s.run(&["rows", "insert", "main.crm.people", "--file", csv_file.to_str().unwrap()], None);
    assert_eq!(
        (dup.code, dup.stderr.as_str()),
        (1, "upload 100%\nerror: duplicate primary key: (id=5) already exist(s) (HTTP 409)\n")
    );
    let bad_filter = s.run(&["rows", "get", "main.crm.people", "-f", "id=around.3"], None);
    assert_eq!(bad_filter.code, 1);
    assert!(bad_filter.stderr.starts_with("error: Validation failed (HTTP 400)\n  id: "), "{}", bad_filter.stderr);
    // A Parquet file is for `import`: refused before anything is sent.
    let parquet = s.run(&["rows", "insert", "main.crm.people", "--file", "x.parquet"], None);
    assert_eq!(
        (parquet.code, parquet.stderr.as_str()),
        (
            1,
            "error: rows are inserted from JSON, NDJSON, CSV or Arrow IPC; import a Parquet file with `lakeward import x.parquet --table <catalog.schema.table>`\n"
        )
    );
    assert_eq!(s.sql("SELECT count(*) AS n FROM main.crm.people").await["rows"], json!([{ "n": 5 }]));
}

/// `history` lists the commits; `rollback` needs `--yes` when nobody can be asked, then
/// commits the old state as a new version.
#[tokio::test]
async fn history_and_rollback() {
    let s = Setup::start().await;
    s.login();
    let file = s.dir.path().join("more.ndjson");
    std::fs::write(&file, "{\"id\": 3, \"name\": \"Linus\"}\n").unwrap();
    s.run(&["rows", "insert", "main.crm.people", "--file", file.to_str().unwrap()], None).ok();
    let commits = s.get_json("/v1/tables/main/crm/people/history").await;
    let versions: Vec<u64> = commits.as_array().unwrap().iter().map(|c| c["version"].as_u64().unwrap()).collect();
    let latest = versions[0];
    let history: Value =
        serde_json::from_str(&s.run(&["history", "main.crm.people", "--json"], None).ok().stdout).unwrap();
    assert_eq!(history, commits);
    let text = s.run(&["history", "main.crm.people"], None).ok();
    let listed: Vec<u64> =
        text.stdout.lines().skip(2).map(|l| l.split_whitespace().next().unwrap().parse().unwrap()).collect();
    assert_eq!(listed, versions);
    assert!(text.stdout.starts_with("version  timestamp"), "{}", text.stdout);

    let before = latest - 1; // Ada and Grace, before Linus
    let refused = s.run(&["rollback", "main.crm.people", &before.to_string()], None);
    assert_eq!(
        (refused.code, refused.stderr.as_str()),
        (1, "error: refusing to roll back main.crm.people without confirmation: stdin is not a terminal; add --yes\n")
    );
    assert_eq!(s.get_json("/v1/tables/main/crm/people").await["version"], latest, "nothing changed");
    let done = s.run(&["rollback", "main.crm.people", &before.to_string(), "--yes"], None).ok();
    assert_eq!(done.stdout, format!("Rolled main.crm.people back to version {before}: new version {}\n", latest + 1));
    assert_eq!(
        s.sql("SELECT id, name FROM main.crm.people ORDER BY id").await["rows"],
        json!([{ "id": 1, "name": "Ada" }, { "id": 2, "name": "Grace" }])
    );
}

/// Errors print the server's message and status and exit 1; `--json` prints the server's
/// error body; a server that cannot be reached is named.
#[tokio::test]
async fn errors_print_the_servers_message_and_exit_non_zero() {
    let s = Setup::start().await;
    let wrong = s.run(&["login", "--server", &s.server(), "--email", EMAIL, "--password", "not my password"], None);
    assert_eq!(
        (wrong.code, wrong.stdout.as_str(), wrong.stderr.as_str()),
        (1, "", "error: Invalid email or password (HTTP 401)\n")
    );
    assert!(!s.profiles_file().exists(), "nothing is stored");
    s.login();

    let bad_sql = "SELEC nonsense FROM";
    let answer = s
        .http
        .post(s.served.url("/v1/sql"))
        .bearer_auth(&s.token)
        .json(&json!({ "query": bad_sql }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    let run = s.run(&["sql", bad_sql], None);
    let mut expected = format!("error: {} (HTTP 400)\n", body["message"].as_str().unwrap());
    for d in body["details"].as_array().into_iter().flatten() {
        expected.push_str(&format!("  {}: {}\n", d["field"].as_str().unwrap(), d["message"].as_str().unwrap()));
    }
    assert_eq!((run.code, run.stdout.as_str(), run.stderr), (1, "", expected));

    let missing = s.run(&["describe", "main.crm.nope"], None);
    assert_eq!((missing.code, missing.stderr.as_str()), (1, "error: table `main.crm.nope` not found (HTTP 404)\n"));
    let missing = s.run(&["export", "main.crm.nope", "-o", "nope.csv", "--json"], None);
    assert_eq!(missing.code, 1);
    assert_eq!(
        serde_json::from_str::<Value>(&missing.stderr).unwrap(),
        json!({ "statusCode": 404, "error": "Not Found", "message": "table `main.crm.nope` not found" })
    );
    assert!(!s.dir.path().join("nope.csv").exists());
    let not_a_name = s.run(&["history", "people"], None);
    assert_eq!(not_a_name.code, 2, "a usage error: {not_a_name:?}");
    assert!(
        not_a_name.stderr.contains("`people` is not a table name: give catalog.schema.table"),
        "{}",
        not_a_name.stderr
    );

    // A stored session that has ended: the server's 401, and what to do about it.
    let stored: toml::Table = std::fs::read_to_string(s.profiles_file()).unwrap().parse().unwrap();
    let session = stored["profiles"]["default"]["token"].as_str().unwrap();
    let ended = s.http.post(s.served.url("/v1/auth/logout")).bearer_auth(session).send().await.unwrap();
    assert_eq!(ended.status(), 200);
    let expired = s.run(&["tables"], None);
    assert_eq!(
        (expired.code, expired.stderr.as_str()),
        (
            1,
            "error: Invalid or expired token (HTTP 401)\n\
             hint: the stored session may have expired (sessions last an hour by default); run `lakeward login` again\n"
        )
    );

    let unreachable = s.run(&["tables", "--server", "http://127.0.0.1:9", "--token", "x"], None);
    assert_eq!(unreachable.code, 1);
    assert!(
        unreachable.stderr.starts_with("error: cannot reach the server at http://127.0.0.1:9: "),
        "{}",
        unreachable.stderr
    );
    let unreachable = s.run(&["tables", "--server", "http://127.0.0.1:9", "--token", "x", "--json"], None);
    let error: Value = serde_json::from_str(&unreachable.stderr).unwrap();
    assert_eq!(error["url"], "http://127.0.0.1:9");
}
