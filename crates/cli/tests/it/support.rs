use std::path::Path;
use std::process::{Command, Output};

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
