//! Bearer-token check on every call (gRPC, gRPC-Web, health and reflection alike).

use tonic::{Request, Status};

/// Returns an interceptor that accepts only `authorization: Bearer <token>`,
/// or everything when `token` is `None` (loopback without a configured token).
pub fn check(token: Option<String>) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone {
    let expected = token.map(|t| format!("Bearer {t}"));
    move |request: Request<()>| {
        let Some(expected) = &expected else { return Ok(request) };
        match request.metadata().get("authorization").and_then(|v| v.to_str().ok()) {
            Some(got) if constant_time_eq(got.as_bytes(), expected.as_bytes()) => Ok(request),
            Some(_) => Err(Status::unauthenticated("authorization: wrong token")),
            None => Err(Status::unauthenticated(
                "authorization: this daemon requires a token (metadata `authorization: Bearer <token>`)",
            )),
        }
    }
}

/// Compares without an early exit, so timing does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
