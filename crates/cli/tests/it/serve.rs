use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::lakeward;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `lakeward serve` on its embedded default answers, and exits cleanly on SIGTERM.
#[tokio::test]
async fn serve_runs_on_the_embedded_default_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = lakeward(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("LAKEWARD_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<_>>());

    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/v1/health");
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        match client.get(&url).send().await {
            Ok(res) => break res.json::<serde_json::Value>().await.unwrap(),
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("server did not come up: {e}"),
        }
    };
    assert_eq!(health["status"], "ok");
    assert!(dir.path().join("lakeward-data/lakeward.db").exists());
    assert!(dir.path().join("lakeward-data/warehouse").is_dir());

    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "server did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let log = lines.join().unwrap().join("\n");
    assert!(log.contains("shutting down: draining in-flight requests"), "{log}");
    assert!(client.get(&url).send().await.is_err(), "nothing listens any more");
}
