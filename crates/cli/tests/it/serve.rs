use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::lakeward;

/// `lakeward serve` on its embedded default answers, and exits cleanly on SIGTERM.
#[tokio::test]
async fn serve_runs_on_the_embedded_default_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // Port 0 and the address from the server's own log: a port picked here and bound later
    // could be taken in between by a server of a test running in parallel.
    let mut child = lakeward(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("LAKEWARD_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut log = Vec::new();
    let addr = loop {
        let line =
            lines.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("no listening line in {log:?}"));
        let addr = line.contains("lakeward listening").then(|| line.split("addr=").nth(1)).flatten();
        log.push(line.clone());
        if let Some(addr) = addr {
            break addr.split_whitespace().next().unwrap().to_string();
        }
    };

    let health = reqwest::get(format!("http://{addr}/v1/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<serde_json::Value>().await.unwrap()["status"], "ok");
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
    // The port is not asked again: once the process has exited it is free for anyone.
    log.extend(lines.iter()); // ends at the pipe's end of file
    let log = log.join("\n");
    assert!(log.contains("shutting down: draining in-flight requests"), "{log}");
}
