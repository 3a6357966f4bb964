//! Helpers for the end-to-end tests: find (or build) the real `apprentice`
//! binary of this build profile and run it as a user would.

pub mod fuzz;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root.
pub fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The shipped example histories.
pub fn examples_dir() -> PathBuf {
    repo_root().join("examples")
}

/// Path to the `apprentice` binary next to this test's profile directory,
/// built on first use if `cargo test` did not build it already.
pub fn apprentice_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // This test runs from <target>/<profile>/deps/<test>-<hash>.
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("<target>/<profile>");
        let bin = profile_dir.join(format!("apprentice{}", std::env::consts::EXE_SUFFIX));
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let mut build = Command::new(option_env!("CARGO").unwrap_or("cargo"));
        build.current_dir(repo_root()).args(["build", "-p", "apprentice", "--bin", "apprentice"]);
        if release {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "cargo build of the apprentice binary failed");
        assert!(bin.exists(), "{} not found after building", bin.display());
        bin
    })
}

/// Runs `apprentice ARGS…` to completion.
pub fn apprentice(args: &[&str]) -> Output {
    Command::new(apprentice_bin()).args(args).output().expect("run apprentice")
}

/// Stderr of a finished command, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The names of the files in `dir`, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

/// A real `apprentice serve` on a free loopback port, with its own folders;
/// killed when dropped.
pub struct Daemon {
    pub child: std::process::Child,
    pub address: String,
    pub home: std::sync::Arc<tempfile::TempDir>,
}

impl Daemon {
    /// Starts a daemon in a fresh home folder.
    pub fn start(extra_args: &[&str]) -> Daemon {
        Daemon::start_in(std::sync::Arc::new(tempfile::tempdir().expect("temp dir")), extra_args)
    }

    /// Starts a daemon in a fresh home whose `apprentice.toml` holds `settings`.
    pub fn start_with_settings(settings: &str) -> Daemon {
        let home = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
        std::fs::create_dir_all(home.path().join("config")).expect("config folder");
        std::fs::write(home.path().join("config/apprentice.toml"), settings).expect("settings");
        Daemon::start_in(home, &[])
    }

    /// Starts a daemon on the folders of `home` (to restart one on the same store).
    pub fn start_in(home: std::sync::Arc<tempfile::TempDir>, extra_args: &[&str]) -> Daemon {
        use std::io::BufRead;
        let dir = home.path();
        let mut args = vec!["serve".to_owned()];
        if !extra_args.contains(&"--address") {
            args.extend(["--address".to_owned(), "127.0.0.1:0".to_owned()]);
        }
        args.extend(["--config-dir".to_owned(), dir.join("config").display().to_string()]);
        args.extend(["--data-dir".to_owned(), dir.join("data").display().to_string()]);
        args.extend(extra_args.iter().map(|s| s.to_string()));
        let mut child = Command::new(apprentice_bin())
            .args(&args)
            .stdout(std::process::Stdio::piped())
            // Set APPRENTICE_TEST_DAEMON_LOG=1 to see the daemons' logs.
            .stderr(if std::env::var_os("APPRENTICE_TEST_DAEMON_LOG").is_some() {
                std::process::Stdio::inherit()
            } else {
                std::process::Stdio::null()
            })
            .spawn()
            .expect("start apprentice serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
        let address = line
            .trim()
            .strip_prefix("apprentice listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the daemon: {line:?}"))
            .to_owned();
        Daemon { child, address, home }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// SIGKILL: no shutdown, no flushing — a crash.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a graceful exit; returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().expect("wait for the daemon")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
