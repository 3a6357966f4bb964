//! Putting the editor plug-ins in place (`apprentice install krita|gimp`): the plug-ins are
//! embedded in the binary (build.rs), so the binary is all a painter needs. Krita's go to its
//! resource folder (`pykrita/`, `actions/`) and are enabled in `kritarc`; GIMP's to a profile's
//! `plug-ins/`. Each install records which `apprentice` put it there (`install.json` beside the
//! plug-in's code), for the plug-in to find the daemon's binary. Folders are found where the
//! editors keep them on Linux (and Flatpak), macOS and Windows.

use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
}

/// The editors a plug-in is embedded for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Editor {
    Krita,
    Gimp,
}

impl Editor {
    pub fn name(self) -> &'static str {
        match self {
            Editor::Krita => "Krita",
            Editor::Gimp => "GIMP",
        }
    }

    /// The plug-in's files: (path in the install, bytes).
    pub fn files(self) -> &'static [(&'static str, &'static [u8])] {
        match self {
            Editor::Krita => embedded::KRITA,
            Editor::Gimp => embedded::GIMP,
        }
    }
}

/// One editor profile: Krita's resource folder (with its `kritarc`), or a GIMP profile folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub editor: Editor,
    pub folder: PathBuf,
    pub kritarc: Option<PathBuf>,
}

/// Reads an environment variable (`None` when unset or empty).
pub type Var = Box<dyn Fn(&str) -> Option<String>>;

/// What the platform's folders are made from (the process's environment, or a test's).
pub struct Env {
    pub home: PathBuf,
    pub platform: &'static str,
    pub var: Var,
}

impl Env {
    pub fn current() -> Result<Env, String> {
        let home = directories::BaseDirs::new()
            .map(|d| d.home_dir().to_path_buf())
            .ok_or("no home folder: set HOME (or give --profile)")?;
        let platform = if cfg!(windows) {
            "windows"
        } else if cfg!(target_os = "macos") {
            "macos"
        } else {
            "linux"
        };
        Ok(Env { home, platform, var: Box::new(|k| std::env::var(k).ok().filter(|v| !v.is_empty())) })
    }

    fn dir(&self, var: &str, fallback: &[&str]) -> PathBuf {
        (self.var)(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| fallback.iter().fold(self.home.clone(), |p, c| p.join(c)))
    }
}

/// Krita's (resource folder, kritarc) pairs for the platform, found or not.
fn krita_candidates(env: &Env) -> Vec<(PathBuf, PathBuf)> {
    match env.platform {
        "windows" => {
            let roaming = env.dir("APPDATA", &["AppData", "Roaming"]);
            let local = env.dir("LOCALAPPDATA", &["AppData", "Local"]);
            vec![(roaming.join("krita"), local.join("kritarc"))]
        }
        "macos" => {
            let library = env.home.join("Library");
            vec![(
                library.join("Application Support").join("krita"),
                library.join("Preferences").join("kritarc"),
            )]
        }
        _ => {
            let flatpak = env.home.join(".var/app/org.kde.krita");
            vec![
                (
                    env.dir("XDG_DATA_HOME", &[".local", "share"]).join("krita"),
                    env.dir("XDG_CONFIG_HOME", &[".config"]).join("kritarc"),
                ),
                (flatpak.join("data/krita"), flatpak.join("config/kritarc")),
            ]
        }
    }
}

/// The folders that hold GIMP's versioned profiles (`3.0`, `3.2`, ...) for the platform.
fn gimp_bases(env: &Env) -> Vec<PathBuf> {
    match env.platform {
        "windows" => vec![env.dir("APPDATA", &["AppData", "Roaming"]).join("GIMP")],
        "macos" => vec![env.home.join("Library/Application Support/GIMP")],
        _ => vec![
            env.dir("XDG_CONFIG_HOME", &[".config"]).join("GIMP"),
            env.home.join(".var/app/org.gimp.GIMP/config/GIMP"),
            env.home.join("snap/gimp/current/.config/GIMP"),
        ],
    }
}

/// The profiles to install into: `profile` when given (for Krita, its resource folder, with
/// `kritarc` beside the platform's), else every one of the editor's found on this machine.
pub fn find(editor: Editor, profile: Option<&Path>, env: &Env) -> Result<Vec<Place>, String> {
    let krita = krita_candidates(env);
    if let Some(folder) = profile {
        if !folder.is_dir() {
            return Err(format!("--profile {}: not a folder", folder.display()));
        }
        let kritarc = (editor == Editor::Krita).then(|| krita[0].1.clone());
        return Ok(vec![Place { editor, folder: folder.to_path_buf(), kritarc }]);
    }
    let (found, looked): (Vec<Place>, Vec<PathBuf>) = match editor {
        Editor::Krita => (
            krita
                .iter()
                .filter(|(folder, _)| folder.is_dir())
                .map(|(folder, rc)| Place { editor, folder: folder.clone(), kritarc: Some(rc.clone()) })
                .collect(),
            krita.iter().map(|(f, _)| f.clone()).collect(),
        ),
        Editor::Gimp => {
            let bases = gimp_bases(env);
            let mut found = Vec::new();
            if let Some(dir) = (env.var)("GIMP3_DIRECTORY") {
                found.push(PathBuf::from(dir));
            } else {
                for base in &bases {
                    let mut versions: Vec<PathBuf> = std::fs::read_dir(base)
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| {
                            p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("3."))
                        })
                        .collect();
                    versions.sort();
                    found.extend(versions);
                }
            }
            (found.into_iter().map(|folder| Place { editor, folder, kritarc: None }).collect(), bases)
        }
    };
    if found.is_empty() {
        let looked: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
        return Err(format!(
            "no {} profile found (looked in {}): start {} once, or give its folder with --profile",
            editor.name(),
            looked.join(", "),
            editor.name()
        ));
    }
    Ok(found)
}

/// The folder the plug-in's own code lives in, inside `place` (replaced whole by an install).
fn code_folder(place: &Place) -> PathBuf {
    match place.editor {
        Editor::Krita => place.folder.join("pykrita").join("apprentice_krita"),
        Editor::Gimp => place.folder.join("plug-ins").join("apprentice-gimp"),
    }
}

/// Where an embedded file goes: Krita's action file to `actions/`, the rest under the plug-in folder.
fn destination(place: &Place, relative: &str) -> PathBuf {
    match place.editor {
        Editor::Krita if relative.ends_with(".action") => place.folder.join("actions").join(relative),
        Editor::Krita => place.folder.join("pykrita").join(relative),
        Editor::Gimp => place.folder.join("plug-ins").join("apprentice-gimp").join(relative),
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("cannot {what} {}: {e}", path.display())
}

/// Installs the plug-in into `place`, recording `binary` as the `apprentice` that did; returns
/// what it did, line by line. A plug-in installed before is replaced whole, and its code folder
/// is written beside the old one first, so a failure leaves the old one working.
pub fn install(place: &Place, binary: &Path) -> Result<Vec<String>, String> {
    let code = code_folder(place);
    let staging = code.with_file_name(format!(".{}-new", code.file_name().unwrap().to_string_lossy()));
    let _ = std::fs::remove_dir_all(&staging);
    let mut outside = Vec::new();
    for (relative, bytes) in place.editor.files() {
        let target = destination(place, relative);
        let into_staging = target.strip_prefix(&code).ok().map(|rest| staging.join(rest));
        let path = into_staging.clone().unwrap_or_else(|| target.clone());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
        }
        crate::files::write(&path, bytes).map_err(|e| io("write", &path, e))?;
        if into_staging.is_none() {
            outside.push(target);
        }
    }
    let record = serde_json::json!({ "apprentice": binary, "version": env!("CARGO_PKG_VERSION") });
    let record_path = staging.join("install.json");
    crate::files::write(&record_path, format!("{record:#}\n").as_bytes())
        .map_err(|e| io("write", &record_path, e))?;
    if place.editor == Editor::Gimp {
        make_executable(&staging.join("apprentice-gimp.py"))?;
    }
    let old = code.with_file_name(format!(".{}-old", code.file_name().unwrap().to_string_lossy()));
    let _ = std::fs::remove_dir_all(&old);
    if code.exists() {
        std::fs::rename(&code, &old).map_err(|e| io("move aside", &code, e))?;
    }
    std::fs::rename(&staging, &code).map_err(|e| io("put in place", &code, e))?;
    let _ = std::fs::remove_dir_all(&old);
    let mut did = vec![format!("put the {} plug-in in {}", place.editor.name(), code.display())];
    did.extend(outside.iter().map(|p| format!("wrote {}", p.display())));
    if let Some(rc) = &place.kritarc {
        set_kritarc(rc, Some("true"))?;
        did.push(format!("enabled it in {} ([python] {KRITA_ENABLE}=true)", rc.display()));
    }
    Ok(did)
}

/// Takes out what [`install`] put in `place`; returns what it removed.
pub fn uninstall(place: &Place) -> Result<Vec<String>, String> {
    let mut did = Vec::new();
    let code = code_folder(place);
    if code.exists() {
        std::fs::remove_dir_all(&code).map_err(|e| io("remove", &code, e))?;
        did.push(format!("removed {}", code.display()));
    }
    for (relative, _) in place.editor.files() {
        let target = destination(place, relative);
        if !target.starts_with(&code) && target.exists() {
            std::fs::remove_file(&target).map_err(|e| io("remove", &target, e))?;
            did.push(format!("removed {}", target.display()));
        }
    }
    if let Some(rc) = &place.kritarc
        && rc.exists()
        && set_kritarc(rc, None)?
    {
        did.push(format!("took {KRITA_ENABLE} out of {}", rc.display()));
    }
    Ok(did)
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| io("make executable", path, e))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> Result<(), String> {
    Ok(()) // GIMP on Windows runs a .py by its interpreter file, not its mode.
}

/// Krita's switch for the plug-in, in `kritarc`'s `[python]` group.
const KRITA_ENABLE: &str = "enable_apprentice_krita";

/// Sets (`Some`) or removes (`None`) the plug-in's switch in `kritarc`, keeping every other
/// line as it was; true when the file changed.
fn set_kritarc(path: &Path, value: Option<&str>) -> Result<bool, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io("read", path, e)),
    };
    let changed = ini_set(&text, "python", KRITA_ENABLE, value);
    if changed == text {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
    }
    crate::files::write(path, changed.as_bytes()).map_err(|e| io("write", path, e))?;
    Ok(true)
}

/// `text` (an INI file) with `key` in `[section]` set to `value` (added, with the section when
/// missing) or removed (`None`); every other line is kept as it was.
pub fn ini_set(text: &str, section: &str, key: &str, value: Option<&str>) -> String {
    let header = format!("[{section}]");
    let mut out: Vec<String> = Vec::new();
    let (mut in_section, mut seen_section, mut done) = (false, false, false);
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            if in_section && !done {
                if let Some(v) = value {
                    // Before the blank lines that end the group.
                    let at = out.iter().rposition(|l| !l.trim().is_empty()).map_or(out.len(), |i| i + 1);
                    out.insert(at, format!("{key}={v}"));
                }
                done = true;
            }
            in_section = trimmed == header;
            seen_section |= in_section;
        } else if in_section && trimmed.split_once('=').is_some_and(|(k, _)| k.trim() == key) {
            if let Some(v) = value
                && !done
            {
                out.push(format!("{key}={v}"));
            }
            done = true;
            continue;
        }
        out.push(line.to_owned());
    }
    if let Some(v) = value
        && !done
    {
        if !seen_section {
            if out.last().is_some_and(|l| !l.trim().is_empty()) {
                out.push(String::new());
            }
            out.push(header);
        }
        out.push(format!("{key}={v}"));
    }
    let mut joined = out.join("\n");
    if !joined.is_empty() {
        joined.push('\n');
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_is_set_and_removed_leaving_every_other_line_alone() {
        let rc = "[General]\nfoo=1\n\n[python]\nenable_other=true\n\n[theme]\nx=y\n";
        let on = ini_set(rc, "python", "enable_apprentice_krita", Some("true"));
        assert_eq!(
            on,
            "[General]\nfoo=1\n\n[python]\nenable_other=true\nenable_apprentice_krita=true\n\n[theme]\nx=y\n"
        );
        assert_eq!(ini_set(&on, "python", "enable_apprentice_krita", Some("true")), on, "idempotent");
        assert_eq!(ini_set(&on, "python", "enable_apprentice_krita", None), rc);
        let off = "[python]\nenable_apprentice_krita=false\n";
        assert_eq!(
            ini_set(off, "python", "enable_apprentice_krita", Some("true")),
            "[python]\nenable_apprentice_krita=true\n"
        );
        assert_eq!(ini_set("", "python", "k", Some("v")), "[python]\nk=v\n");
        assert_eq!(ini_set("[General]\na=b", "python", "k", Some("v")), "[General]\na=b\n\n[python]\nk=v\n");
        assert_eq!(ini_set("[General]\na=b\n", "python", "k", None), "[General]\na=b\n");
    }

    /// An environment of `home` on `platform` with these variables set.
    fn env(home: &Path, platform: &'static str, vars: &[(&str, &str)]) -> Env {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Env {
            home: home.to_path_buf(),
            platform,
            var: Box::new(move |k| vars.iter().find(|(name, _)| name == k).map(|(_, v)| v.clone())),
        }
    }

    fn folders(places: Result<Vec<Place>, String>) -> Vec<PathBuf> {
        places.unwrap().into_iter().map(|p| p.folder).collect()
    }

    #[test]
    fn gimp_3_profiles_are_found_where_each_platform_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let none = find(Editor::Gimp, None, &env(&home, "linux", &[])).unwrap_err();
        assert!(none.contains("no GIMP profile found") && none.contains("--profile"), "{none}");
        let linux = [home.join(".config/GIMP/3.0"), home.join(".var/app/org.gimp.GIMP/config/GIMP/3.2")];
        for p in linux.iter().chain([&home.join(".config/GIMP/2.10")]) {
            std::fs::create_dir_all(p).unwrap();
        }
        assert_eq!(folders(find(Editor::Gimp, None, &env(&home, "linux", &[]))), linux, "3.x only");
        let mac = home.join("Library/Application Support/GIMP/3.2");
        std::fs::create_dir_all(&mac).unwrap();
        assert_eq!(folders(find(Editor::Gimp, None, &env(&home, "macos", &[]))), [mac]);
        let roaming = dir.path().join("AppData/Roaming");
        std::fs::create_dir_all(roaming.join("GIMP/3.0")).unwrap();
        let windows = env(&home, "windows", &[("APPDATA", roaming.to_str().unwrap())]);
        assert_eq!(folders(find(Editor::Gimp, None, &windows)), [roaming.join("GIMP/3.0")]);
        let chosen = env(&home, "linux", &[("GIMP3_DIRECTORY", "/x/y")]);
        assert_eq!(folders(find(Editor::Gimp, None, &chosen)), [PathBuf::from("/x/y")]);
    }

    #[test]
    fn krita_is_found_with_its_kritarc_on_each_platform() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_path_buf();
        std::fs::create_dir_all(home.join("Library/Application Support/krita")).unwrap();
        let mac = find(Editor::Krita, None, &env(&home, "macos", &[])).unwrap();
        assert_eq!(mac[0].kritarc.as_deref(), Some(home.join("Library/Preferences/kritarc").as_path()));
        std::fs::create_dir_all(home.join(".var/app/org.kde.krita/data/krita")).unwrap();
        let flatpak = find(Editor::Krita, None, &env(&home, "linux", &[])).unwrap();
        assert_eq!(
            flatpak[0].kritarc.as_deref(),
            Some(home.join(".var/app/org.kde.krita/config/kritarc").as_path())
        );
        let local = dir.path().join("Local");
        let windows = env(
            &home,
            "windows",
            &[("APPDATA", home.to_str().unwrap()), ("LOCALAPPDATA", local.to_str().unwrap())],
        );
        std::fs::create_dir_all(home.join("krita")).unwrap();
        assert_eq!(find(Editor::Krita, None, &windows).unwrap()[0].kritarc, Some(local.join("kritarc")));
    }

    #[test]
    fn both_plug_ins_are_embedded_with_their_client() {
        let names = |e: Editor| e.files().iter().map(|(n, _)| *n).collect::<Vec<_>>();
        let krita = names(Editor::Krita);
        for must in ["apprentice_krita.desktop", "apprentice_krita.action", "apprentice_krita/__init__.py"] {
            assert!(krita.contains(&must), "{must} in {krita:?}");
        }
        assert!(krita.contains(&"apprentice_krita/apprentice_client/grpcweb.py"));
        let gimp = names(Editor::Gimp);
        assert!(gimp.contains(&"apprentice-gimp.py") && gimp.contains(&"apprentice_gimp/plan.py"));
        assert!(gimp.contains(&"apprentice_client/schema.py"));
        assert!(gimp.iter().chain(&krita).all(|n| !n.contains("__pycache__")));
    }
}
