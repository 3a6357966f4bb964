//! Where Apprentice keeps its files, and its settings (`apprentice.toml`).
//!
//! Folders come from, in order: command-line flags, the environment
//! (`APPRENTICE_CONFIG_DIR`, `APPRENTICE_DATA_DIR`), then the platform's usual
//! places (`directories`: `~/.config/apprentice` and `~/.local/share/apprentice`
//! on Linux). Settings come from the TOML file, then flags override them.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The documented default: loopback, port 47820.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:47820";

#[derive(Clone, Debug)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    pub fn resolve(config_dir: Option<PathBuf>, data_dir: Option<PathBuf>) -> Result<Paths, String> {
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let project = directories::ProjectDirs::from("org", "apprentice", "apprentice");
        let config_dir = config_dir
            .or_else(|| env("APPRENTICE_CONFIG_DIR"))
            .or_else(|| project.as_ref().map(|p| p.config_dir().to_owned()))
            .ok_or("no home directory: pass --config-dir")?;
        let data_dir = data_dir
            .or_else(|| env("APPRENTICE_DATA_DIR"))
            .or_else(|| project.as_ref().map(|p| p.data_dir().to_owned()))
            .ok_or("no home directory: pass --data-dir")?;
        Ok(Paths { config_dir, data_dir })
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("apprentice.toml")
    }

    pub fn token_file(&self) -> PathBuf {
        self.config_dir.join("token")
    }

    pub fn store_file(&self) -> PathBuf {
        self.data_dir.join("sessions.sqlite3")
    }

    pub fn models_dir(&self) -> PathBuf {
        self.data_dir.join("models")
    }

    /// Where personalization runs keep their work until they finish (a stopped one resumes).
    pub fn personalizing_dir(&self) -> PathBuf {
        self.data_dir.join("personalizing")
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub watch: WatchConfig,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// `host:port`. Anything but loopback requires a token.
    pub address: String,
    /// Bearer token clients must send. Absent: none on loopback; generated into
    /// the config folder's `token` file when listening elsewhere.
    pub token: Option<String>,
    /// Largest request or response, in MiB.
    pub max_message_mib: u32,
    /// Most ops in one AppendOps batch.
    pub max_ops_per_batch: u32,
    /// Most ops one Continue call may ask for.
    pub max_continue_ops: u32,
    /// Working memory all heavy calls (Render, Continue, MagicBrush, snapshots) may hold
    /// at once, in MiB; calls beyond it wait their turn.
    pub max_work_mib: u32,
    /// Sessions' canvases kept in memory between calls (so that Continue after a few
    /// strokes does not replay the session), in MiB.
    pub canvas_cache_mib: u32,
    /// Host names the daemon answers to without a token, besides loopback names
    /// (a guard against DNS rebinding; see `server/origin.rs`).
    pub allowed_hosts: Vec<String>,
    /// Browser origins (`https://app.example`) allowed to call over gRPC-Web, besides
    /// loopback ones; they get CORS answers.
    pub allowed_origins: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            address: DEFAULT_ADDRESS.to_owned(),
            token: None,
            max_message_mib: 64,
            max_ops_per_batch: 10_000,
            max_continue_ops: 100_000,
            // One 64-megapixel Render at a time (24 B/px), many small calls at once.
            max_work_mib: 1536,
            // Twenty 1024×768 canvases (12 MiB each).
            canvas_cache_mib: 256,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WatchConfig {
    /// Ops added to each history dropped into the inbox.
    pub continue_ops: u32,
    /// Ops used to paint each image dropped into the inbox.
    pub paint_ops: u32,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig { continue_ops: 50, paint_ops: 300 }
    }
}

impl Config {
    /// Reads the config file; a missing file means the defaults.
    pub fn load(path: &Path) -> Result<Config, String> {
        match fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    pub fn address(&self) -> Result<SocketAddr, String> {
        self.server
            .address
            .parse()
            .map_err(|e| format!("server.address {:?} is not host:port: {e}", self.server.address))
    }
}

/// A token any client can send: an HTTP header value (gRPC-Web), so visible ASCII only.
pub fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("must not be empty".to_owned());
    }
    match token.chars().find(|c| !c.is_ascii_graphic()) {
        None => Ok(()),
        Some(c) => Err(format!(
            "must be printable ASCII without spaces (a header value every client can send), found {c:?}"
        )),
    }
}

/// Refuses a token file others could read or swap: a link, not a plain file, not ours,
/// or readable or writable by group or others.
fn check_token_file(path: &Path, meta: &fs::Metadata) -> Result<(), String> {
    let name = path.display();
    if meta.file_type().is_symlink() {
        return Err(format!("token file {name} is a link: replace it with the file itself (mode 600)"));
    }
    if !meta.is_file() {
        return Err(format!("token file {name} is not a plain file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(format!(
                "token file {name} belongs to another user (uid {}): it must be yours",
                meta.uid()
            ));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(format!(
                "token file {name} can be read or changed by others (mode {:o}): run `chmod 600` on it, or delete it for a new one",
                meta.mode() & 0o777
            ));
        }
    }
    Ok(())
}

/// The token in `path`, created (random, owner-only permissions) if missing or empty.
/// An unsafe file (see [`check_token_file`]) or an unusable token in it is refused.
pub fn ensure_token(path: &Path) -> Result<String, String> {
    let err = |e: std::io::Error| format!("token file {}: {e}", path.display());
    if let Ok(meta) = fs::symlink_metadata(path) {
        check_token_file(path, &meta)?;
        let token = fs::read_to_string(path).map_err(err)?.trim().to_owned();
        if !token.is_empty() {
            check_token(&token).map_err(|e| format!("the token in {}: {e}", path.display()))?;
            return Ok(token);
        }
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(err)?;
    }
    let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    // Written owner-only under a temporary name, then renamed: never readable by others,
    // even for a moment, whatever the umask.
    let tmp = crate::files::temporary_for(path).map_err(err)?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&tmp)
        .and_then(|mut file| file.write_all(token.as_bytes()))
        .and_then(|()| crate::files::commit(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(err)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_means_defaults_and_unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("apprentice.toml");
        assert_eq!(Config::load(&path).unwrap(), Config::default());
        fs::write(&path, "[server]\naddress = \"0.0.0.0:9\"\nmax_ops_per_batch = 5\n").unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!((c.server.address.as_str(), c.server.max_ops_per_batch), ("0.0.0.0:9", 5));
        fs::write(&path, "[server]\nadress = \"x\"\n").unwrap();
        assert!(Config::load(&path).unwrap_err().contains("unknown field `adress`"));
    }

    #[test]
    fn the_generated_token_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/token");
        let t = ensure_token(&path).unwrap();
        assert_eq!(t.len(), 64);
        assert_eq!(ensure_token(&path).unwrap(), t);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn an_unsafe_token_file_is_refused_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // Empty and world-readable: the token would land where others can read it.
        let open = dir.path().join("token");
        fs::write(&open, "").unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o644)).unwrap();
        let e = ensure_token(&open).unwrap_err();
        assert!(e.contains("mode 644") && e.contains("chmod 600"), "{e}");
        assert_eq!(fs::read_to_string(&open).unwrap(), "", "nothing written into it");
        // A link is not followed.
        let target = dir.path().join("elsewhere");
        fs::write(&target, "").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(ensure_token(&link).unwrap_err().contains("is a link"));
        assert_eq!(fs::read_to_string(&target).unwrap(), "");
        // A private file with a token no client could send.
        let spaced = dir.path().join("spaced");
        fs::write(&spaced, "abc def").unwrap();
        fs::set_permissions(&spaced, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(ensure_token(&spaced).unwrap_err().contains("printable ASCII"));
    }

    #[test]
    fn tokens_are_visible_ascii() {
        assert!(check_token("s3cret-Token_1").is_ok());
        for bad in ["", "abc ", "tökén", "a\tb"] {
            assert!(check_token(bad).is_err(), "{bad:?}");
        }
    }
}
