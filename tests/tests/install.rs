//! `apprentice install krita|gimp`: the plug-ins inside the binary, put where the editors look
//! for them in a fresh home folder, and taken out again. (Real Krita and GIMP load what it
//! installs in tests/python: test_krita_e2e.py, test_gimp_e2e.py.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use apprentice_e2e::{apprentice_bin, repo_root, stderr};

/// `apprentice ARGS` with HOME at `home` and no XDG folders of the machine's own.
fn run(home: &Path, args: &[&str]) -> Output {
    Command::new(apprentice_bin())
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("GIMP3_DIRECTORY")
        .output()
        .expect("run apprentice")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// The repository's Python files of `dir` (no caches), relative, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    tree(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "py") && !p.to_string_lossy().contains("__pycache__"))
        .collect()
}

#[test]
fn without_krita_the_install_refuses_naming_where_it_looked() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["install", "krita"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("no Krita profile found") && err.contains(".local/share/krita"), "{err}");
    assert!(err.contains("--profile"), "{err}");
    assert_eq!(tree(home.path()), Vec::<PathBuf>::new(), "nothing written");
}

#[test]
fn krita_gets_its_plug_in_enabled_and_the_install_is_undone_cleanly() {
    let home = tempfile::tempdir().unwrap();
    let resources = home.path().join(".local/share/krita");
    std::fs::create_dir_all(&resources).unwrap();
    let kritarc = home.path().join(".config/kritarc");
    std::fs::create_dir_all(kritarc.parent().unwrap()).unwrap();
    std::fs::write(&kritarc, "[General]\nShowOutlineWhilePainting=false\n\n[python]\nenable_other=true\n")
        .unwrap();

    let out = run(home.path(), &["install", "krita"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("apprentice uninstall krita"), "it says how to undo it");
    // What Krita's importer would unpack from the plug-in's zip, the client inside the package.
    let package = resources.join("pykrita/apprentice_krita");
    let krita_src = repo_root().join("plugin-krita");
    for file in sources(&krita_src.join("apprentice_krita")) {
        assert_eq!(
            std::fs::read(package.join(&file)).unwrap(),
            std::fs::read(krita_src.join("apprentice_krita").join(&file)).unwrap()
        );
    }
    let client = repo_root().join("proto/python/apprentice_client");
    for file in sources(&client) {
        assert_eq!(
            std::fs::read(package.join("apprentice_client").join(&file)).unwrap(),
            std::fs::read(client.join(&file)).unwrap()
        );
    }
    assert!(resources.join("pykrita/apprentice_krita.desktop").is_file());
    assert!(resources.join("actions/apprentice_krita.action").is_file());
    // The record says which binary installed it (for the plug-in to start the daemon).
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(package.join("install.json")).unwrap()).unwrap();
    assert_eq!(Path::new(record["apprentice"].as_str().unwrap()), apprentice_bin().canonicalize().unwrap());
    // Enabled, the painter's own settings kept.
    let rc = std::fs::read_to_string(&kritarc).unwrap();
    assert_eq!(
        rc,
        "[General]\nShowOutlineWhilePainting=false\n\n[python]\nenable_other=true\nenable_apprentice_krita=true\n"
    );

    // Installing again replaces the package whole.
    std::fs::write(package.join("stale.py"), "").unwrap();
    assert!(run(home.path(), &["install", "krita"]).status.success());
    assert!(!package.join("stale.py").exists());
    assert_eq!(std::fs::read_to_string(&kritarc).unwrap(), rc, "enabled once");

    let out = run(home.path(), &["uninstall", "krita"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(tree(&resources), Vec::<PathBuf>::new(), "every file it put there is gone");
    assert_eq!(
        std::fs::read_to_string(&kritarc).unwrap(),
        "[General]\nShowOutlineWhilePainting=false\n\n[python]\nenable_other=true\n"
    );
    let again = run(home.path(), &["uninstall", "krita"]);
    assert!(stdout(&again).contains("nothing to take out"), "{}", stdout(&again));
}

#[test]
fn every_gimp_3_profile_gets_the_plug_in_ready_to_run() {
    let home = tempfile::tempdir().unwrap();
    let gimp = home.path().join(".config/GIMP");
    for v in ["2.10", "3.0", "3.2"] {
        std::fs::create_dir_all(gimp.join(v)).unwrap();
    }
    let out = run(home.path(), &["install", "gimp"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let src = repo_root().join("plugin-gimp/apprentice-gimp");
    for v in ["3.0", "3.2"] {
        let folder = gimp.join(v).join("plug-ins/apprentice-gimp");
        for file in sources(&src) {
            assert_eq!(
                std::fs::read(folder.join(&file)).unwrap(),
                std::fs::read(src.join(&file)).unwrap(),
                "{file:?}"
            );
        }
        assert!(folder.join("apprentice_client/grpcweb.py").is_file());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(folder.join("apprentice-gimp.py")).unwrap().permissions().mode();
            assert_eq!(mode & 0o111, 0o111, "GIMP runs it");
        }
    }
    assert!(!gimp.join("2.10/plug-ins").exists(), "GIMP 2 is left alone");

    // One profile, by name.
    let other = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["install", "gimp", "--profile", other.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(other.path().join("plug-ins/apprentice-gimp/apprentice-gimp.py").is_file());

    assert!(run(home.path(), &["uninstall", "gimp"]).status.success());
    assert!(
        !gimp.join("3.0/plug-ins/apprentice-gimp").exists()
            && !gimp.join("3.2/plug-ins/apprentice-gimp").exists()
    );
}
