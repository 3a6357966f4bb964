//! `apprentice serve`: the daemon the editor plug-ins talk to.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{CliError, CliResult, Dirs};
use crate::config::{self, Config};
use crate::server::{self, Limits, ServeOptions};
use crate::store::Store;

/// How long calls in flight may run on after SIGINT or SIGTERM.
const GRACE: Duration = Duration::from_secs(5);

/// Run the daemon: gRPC and gRPC-Web on one port (default 127.0.0.1:47820).
///
/// Sessions are stored in the data folder and survive restarts. Listening on
/// anything but loopback requires a token: give one with --token (or in the
/// config file), or one is generated into the config folder's `token` file.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on, host:port (port 0 picks a free one).
    #[arg(long, value_name = "HOST:PORT")]
    address: Option<String>,
    /// Bearer token clients must send (`authorization: Bearer TOKEN`).
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// The sessions database (default: sessions.sqlite3 in the data folder).
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
    /// A Stable Diffusion model (MODELS_DIR/sd/NAME/) to paint magic-brush dabs that have a prompt
    /// with; without one the built-in brush paints them and says it reads no text.
    #[arg(long, value_name = "NAME")]
    brush_model: Option<String>,
    /// Stop (as on SIGTERM) when the process with this id is gone: an editor's plug-in that
    /// started the daemon passes the editor's, so the daemon ends with the editor (Unix).
    #[arg(long, value_name = "PID")]
    parent_pid: Option<u32>,
    #[command(flatten)]
    dirs: Dirs,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

/// How often the daemon looks whether its parent (--parent-pid) is still there.
const PARENT_CHECK: Duration = Duration::from_secs(1);

/// Completes when process `pid` is gone (never where that cannot be known).
async fn parent_gone(pid: Option<u32>) {
    let Some(pid) = pid else { return std::future::pending().await };
    #[cfg(unix)]
    loop {
        // Signal 0 checks existence only; EPERM means it exists under another user.
        let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            tracing::info!("process {pid} (--parent-pid) is gone: shutting down");
            return;
        }
        tokio::time::sleep(PARENT_CHECK).await;
    }
    #[cfg(not(unix))]
    {
        tracing::warn!("--parent-pid {pid}: not watched on this system");
        std::future::pending().await
    }
}

pub fn run(args: Args) -> CliResult {
    let device = args.device.apply().map_err(CliError::input)?;
    let paths = args.dirs.paths()?;
    let mut config = Config::load(&paths.config_file()).map_err(CliError::input)?;
    if let Some(a) = args.address {
        config.server.address = a;
    }
    if let Some(t) = args.token {
        config.server.token = Some(t);
    }
    let address: SocketAddr = config.address().map_err(CliError::input)?;
    let token = match config.server.token.clone() {
        Some(t) => {
            config::check_token(&t)
                .map_err(|e| CliError::input(format!("--token (or server.token): {e}")))?;
            Some(t)
        }
        None if address.ip().is_loopback() => None,
        None => {
            let file = paths.token_file();
            let t = config::ensure_token(&file).map_err(CliError::input)?;
            tracing::info!("listening beyond loopback: clients need the token in {}", file.display());
            Some(t)
        }
    };

    let store_path = args.store.unwrap_or_else(|| paths.store_file());
    if let Some(dir) = store_path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::failure(format!("cannot create {}: {e}", dir.display())))?;
    }
    let store = Store::open(&store_path)
        .map_err(|e| CliError::failure(format!("cannot open the store {}: {e}", store_path.display())))?;

    // The newest model in the models folder is used, and replaced when a new one is dropped in.
    let models = paths.models_dir();
    match crate::model::registry::reload_from(&models) {
        Ok(name) => tracing::info!("model in use: {name}"),
        Err(e) => tracing::warn!("model not loaded, using the built-in one: {e}"),
    }
    let _watcher = crate::model::registry::watch(&models).map_err(CliError::failure)?;
    let sd = match &args.brush_model {
        Some(name) => {
            let sd = crate::diffusion::sd::load(&models, name, &device)
                .map_err(|e| CliError::input(format!("--brush-model: {e}")))?;
            tracing::info!("prompts painted with Stable Diffusion {}", sd.describe());
            Some(Arc::new(sd))
        }
        None => None,
    };

    let runtime = tokio::runtime::Runtime::new().map_err(|e| CliError::failure(format!("tokio: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| CliError::failure(format!("cannot listen on {address}: {e}")))?;
        let local = listener.local_addr().map_err(|e| CliError::failure(e.to_string()))?;
        // One line on stdout, for scripts and tests that asked for port 0.
        println!("apprentice listening on {local}");
        tracing::info!("store: {}", store_path.display());
        let options = ServeOptions {
            store: Arc::new(store),
            token,
            limits: Limits {
                max_ops_per_batch: config.server.max_ops_per_batch as usize,
                max_continue_ops: config.server.max_continue_ops,
                max_magic_pixels: crate::server::service::MAX_MAGIC_PIXELS,
                max_work_mib: config.server.max_work_mib,
                canvas_cache_mib: config.server.canvas_cache_mib,
                max_message_bytes: config.server.max_message_mib as usize * 1024 * 1024,
            },
            max_message_bytes: config.server.max_message_mib as usize * 1024 * 1024,
            styles_dir: Some(crate::diffusion::style::styles_dir(&paths.data_dir)),
            allowed_hosts: config.server.allowed_hosts.clone(),
            allowed_origins: config.server.allowed_origins.clone(),
            models_dir: Some(models.clone()),
            sd,
        };
        // On SIGINT/SIGTERM: stop accepting, let calls in flight finish, but do
        // not wait more than GRACE for long streams (acknowledged ops are on disk).
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let parent = args.parent_pid;
        tokio::spawn(async move {
            tokio::select! {
                () = server::shutdown_signal() => {},
                () = parent_gone(parent) => {},
            }
            let _ = stop.send(true);
        });
        let mut stopped_too = stopped.clone();
        let graceful = server::serve(listener, options, async move {
            let mut stopped = stopped;
            let _ = stopped.wait_for(|s| *s).await;
        });
        let forced = async move {
            let _ = stopped_too.wait_for(|s| *s).await;
            tokio::time::sleep(GRACE).await;
        };
        tokio::select! {
            result = graceful => result.map_err(|e| CliError::failure(format!("server: {e}"))),
            () = forced => {
                tracing::warn!("calls still open {} s after the signal: exiting", GRACE.as_secs());
                Ok(())
            }
        }
    })
}
