//! The daemon: one port serves gRPC (HTTP/2) and gRPC-Web (HTTP/1.1), with the
//! standard health and reflection services, so stock gRPC tools work.

mod auth;
mod origin;
pub mod service;
mod status;
mod work;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tonic::transport::Server;

use crate::ops::pb::apprentice_server::ApprenticeServer;
use crate::store::Store;
pub use service::Limits;

pub struct ServeOptions {
    pub store: Arc<Store>,
    /// Required bearer token, if any.
    pub token: Option<String>,
    pub limits: Limits,
    /// Largest request or response in bytes.
    pub max_message_bytes: usize,
    /// Where magic-brush styles are found by name (none: styles are not found).
    pub styles_dir: Option<std::path::PathBuf>,
    /// Host names accepted without a token besides loopback ones (`server.allowed_hosts`).
    pub allowed_hosts: Vec<String>,
    /// Browser origins accepted besides loopback ones (`server.allowed_origins`).
    pub allowed_origins: Vec<String>,
    /// The models folder, whose Stable Diffusion folders GetInfo lists.
    pub models_dir: Option<std::path::PathBuf>,
    /// The Stable Diffusion model magic-brush dabs with a prompt are painted with.
    pub sd: Option<Arc<crate::diffusion::sd::StableDiffusion>>,
}

/// Serves until `shutdown` completes, then finishes the calls in flight.
pub async fn serve(
    listener: TcpListener,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    // A damaged store is reported to health checks (NOT_SERVING) rather than found by users.
    let store_damage = options.store.check().err();
    let mut service = service::Service::new(options.store, options.limits);
    if let Some(dir) = options.styles_dir {
        service = service.with_styles(dir);
    }
    if let Some(dir) = options.models_dir {
        service = service.with_models_dir(dir);
    }
    if let Some(sd) = options.sd {
        service = service.with_sd(sd);
    }
    let apprentice = ApprenticeServer::new(service)
        .max_decoding_message_size(options.max_message_bytes)
        .max_encoding_message_size(options.max_message_bytes);
    let (health_reporter, health) = tonic_health::server::health_reporter();
    match store_damage {
        None => health_reporter.set_serving::<ApprenticeServer<service::Service>>().await,
        Some(e) => {
            tracing::error!("the store is damaged ({e}): reporting NOT_SERVING; back up the data folder");
            health_reporter.set_service_status("", tonic_health::ServingStatus::NotServing).await;
            health_reporter.set_not_serving::<ApprenticeServer<service::Service>>().await;
        }
    }
    // Both reflection versions: grpcurl speaks v1, grpcio's Python tooling v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(apprentice_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1().expect("the embedded descriptor sets are valid");
    let reflection_v1alpha = reflection().build_v1alpha().expect("the embedded descriptor sets are valid");

    let policy = origin::Policy {
        check_host: options.token.is_none(),
        allowed_hosts: options.allowed_hosts,
        listening: listener.local_addr().ok().map(|a| a.ip()),
        allowed_origins: options.allowed_origins,
    };
    Server::builder()
        .accept_http1(true)
        .layer(origin::OriginLayer(Arc::new(policy)))
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(tonic::service::InterceptorLayer::new(auth::check(options.token)))
        .add_service(apprentice)
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        // No Nagle: a streamed op is a small write right after the response's headers, and
        // held back until the client's delayed ACK it would reach the editor ~40 ms late.
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
