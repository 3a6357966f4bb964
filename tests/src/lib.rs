//! Helpers for the end-to-end tests: find (or build) the real `apprentice`
//! binary of this build profile and run it as a user would.

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
