//! Errors as gRPC statuses, each with a message that names what was wrong.

use tonic::{Code, Status};

use crate::ops::FieldError;
use crate::store::StoreError;

/// A field that failed validation: `INVALID_ARGUMENT`, or `RESOURCE_EXHAUSTED` for a size limit.
pub fn field(e: FieldError) -> Status {
    let code = if e.limit { Code::ResourceExhausted } else { Code::InvalidArgument };
    Status::new(code, e.to_string())
}

pub fn invalid(field: &str, message: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {message}"))
}

pub fn store(e: StoreError) -> Status {
    match &e {
        StoreError::UnknownSession(_) => Status::not_found(e.to_string()),
        StoreError::SequenceGap { expected, .. } => {
            let mut status = Status::failed_precondition(format!("sequence: {e}"));
            // Machine-readable too, so a client can resend from the right batch.
            status
                .metadata_mut()
                .insert("apprentice-expected-sequence", expected.to_string().parse().expect("digits"));
            status
        }
        StoreError::SequenceReused(_) => Status::failed_precondition(format!("sequence: {e}")),
        StoreError::CanvasChanged { .. } => Status::failed_precondition(format!("header: {e}")),
        StoreError::Full(_) => {
            tracing::error!("store: {e}");
            Status::resource_exhausted(e.to_string())
        }
        StoreError::Lost => {
            tracing::error!("store: {e}");
            Status::unavailable(e.to_string())
        }
        StoreError::NewerSchema(_)
        | StoreError::OlderSchema(_)
        | StoreError::Corrupt(_)
        | StoreError::InUse(..)
        | StoreError::Sqlite(_) => {
            tracing::error!("store: {e}");
            Status::internal(e.to_string())
        }
    }
}

/// A blocking task that died (a bug): reported, never a hang.
pub fn task(e: tokio::task::JoinError) -> Status {
    tracing::error!("worker task failed: {e}");
    Status::internal("internal error: a worker task failed")
}
