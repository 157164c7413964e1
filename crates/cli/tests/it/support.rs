use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn lakeward(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lakeward"));
    cmd.current_dir(cwd);
    // The tests decide every setting; none leaks in from the environment running them.
    for (key, _) in std::env::vars() {
        if key.starts_with("LAKEWARD_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

pub fn run_ok(cmd: &mut Command) -> String {
    let out: Output = cmd.output().unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `lakeward serve` running in `dir`, with its log (stderr) read line by line.
pub struct Served {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    pub addr: String,
}

impl Served {
    /// With every `info` line (`LAKEWARD_LOG=info`).
    pub fn start(dir: &std::path::Path, args: &[&str]) -> Self {
        Self::start_logging(dir, args, Some("info"))
    }

    /// With `LAKEWARD_LOG` set to `log`, or unset for the default filter.
    pub fn start_logging(dir: &std::path::Path, args: &[&str], log: Option<&str>) -> Self {
        // Port 0 and the address from the server's own log: a port picked here and bound
        // later could be taken in between by a server of a test running in parallel.
        let mut command = lakeward(dir);
        command.args(["serve", "--listen", "127.0.0.1:0"]).args(args).stderr(Stdio::piped());
        // Flight SQL's default port would be taken by whichever test's server came first.
        if !args.contains(&"--flight-listen") {
            command.args(["--flight-listen", "127.0.0.1:0"]);
        }
        if let Some(log) = log {
            command.env("LAKEWARD_LOG", log);
        }
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (lines_tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let mut served = Self { child, lines, log: Vec::new(), addr: String::new() };
        let line = served.wait_for("lakeward listening");
        served.addr = line.split("addr=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
        served
    }

    /// The first log line (from now) that contains `needle`.
    pub fn wait_for(&mut self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no line with {needle:?} in {:?}", self.log));
            self.log.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// SIGTERM, then the exit status and the whole log.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        let status = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exit = wait(&mut self.child, Duration::from_secs(10)).expect("server did not exit after SIGTERM");
        self.log.extend(self.lines.iter()); // ends at the pipe's end of file
        (exit, self.log.join("\n"))
    }
}

impl Drop for Served {
    /// A test that fails midway leaves no server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            return Some(exit);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
