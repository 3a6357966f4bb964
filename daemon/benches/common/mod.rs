//! What the daemon benches share: the real binary started on a loopback port in a
//! fresh home, and its memory read from /proc.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

pub struct Daemon {
    pub child: Child,
    pub url: String,
    _home: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start() -> Daemon {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_apprentice"))
        .args(["serve", "--address", "127.0.0.1:0", "--config-dir"])
        .arg(home.path().join("config"))
        .arg("--data-dir")
        .arg(home.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("apprentice listening on ").expect("listening line").to_owned();
    Daemon { child, url: format!("http://{addr}"), _home: home }
}

/// Resident and peak resident memory of a process, in MiB (Linux).
pub fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
