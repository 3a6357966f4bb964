//! Who may talk to the daemon from a browser: Host and Origin checks, and CORS.
//!
//! Without a token, a daemon on loopback trusts whatever reaches it; a web page could
//! reach it anyway by DNS rebinding (its own name, re-pointed at 127.0.0.1, so the
//! browser sees a same-origin request). Such a request still names the page's host in
//! `Host` (`:authority` over HTTP/2) and `Origin`, so:
//! - without a token, the host must be a loopback name (`localhost`, `127.0.0.0/8`,
//!   `::1`), the address the daemon listens on, or one of `server.allowed_hosts`;
//! - with or without a token, an `Origin` (only browsers send one) must be a loopback
//!   origin or one of `server.allowed_origins`; those origins get CORS answers (the
//!   preflight, and the headers that let a page read grpc-status), others get nothing.
//!
//! A refused request is answered `PERMISSION_DENIED` naming what was refused.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use tonic::Status;
use tonic::body::Body;

/// What the daemon answers to.
#[derive(Debug, Default)]
pub struct Policy {
    /// Check `Host` (no token is required, so the host is all that tells a page apart).
    pub check_host: bool,
    /// Host names accepted besides loopback names and the listening address.
    pub allowed_hosts: Vec<String>,
    /// The address the daemon listens on (accepted as a host).
    pub listening: Option<IpAddr>,
    /// Browser origins accepted besides loopback ones (`scheme://host[:port]`).
    pub allowed_origins: Vec<String>,
}

/// The host part of `host[:port]`, `[v6]:port` or `[v6]`.
fn host_name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    }
}

fn is_loopback_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Policy {
    fn host_allowed(&self, authority: &str) -> bool {
        let host = host_name(authority);
        is_loopback_name(host)
            || self.listening.is_some_and(|ip| !ip.is_unspecified() && host.parse() == Ok(ip))
            || self.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        let authority = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
        authority.is_some_and(|a| is_loopback_name(host_name(a)))
            || self.allowed_origins.iter().any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }

    /// Why `request` is refused, if it is; else the origin to answer CORS for, if any.
    fn check<B>(&self, request: &Request<B>) -> Result<Option<HeaderValue>, String> {
        if self.check_host {
            // HTTP/2 carries the host in the URI (`:authority`), HTTP/1.1 in `Host`.
            let authority = match request.uri().authority() {
                Some(a) => Some(a.as_str().to_owned()),
                None => request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned),
            };
            match authority {
                Some(a) if self.host_allowed(&a) => {}
                Some(a) => {
                    return Err(format!(
                        "host {a:?} is not a loopback name: add it to server.allowed_hosts to accept it"
                    ));
                }
                None => return Err("the request names no host".to_owned()),
            }
        }
        match request.headers().get(header::ORIGIN) {
            None => Ok(None),
            Some(origin) => match origin.to_str() {
                Ok(o) if self.origin_allowed(o) => Ok(Some(origin.clone())),
                _ => Err(format!(
                    "origin {origin:?} is not allowed: add it to server.allowed_origins to let its pages call"
                )),
            },
        }
    }
}

/// The layer that applies a [`Policy`] to every request.
#[derive(Clone)]
pub struct OriginLayer(pub Arc<Policy>);

impl<S> tower_layer::Layer<S> for OriginLayer {
    type Service = OriginCheck<S>;

    fn layer(&self, inner: S) -> OriginCheck<S> {
        OriginCheck { inner, policy: self.0.clone() }
    }
}

#[derive(Clone)]
pub struct OriginCheck<S> {
    inner: S,
    policy: Arc<Policy>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

const ALLOW_HEADERS: &str = "content-type, x-grpc-web, x-user-agent, grpc-timeout, authorization";
const EXPOSE_HEADERS: &str =
    "grpc-status, grpc-message, grpc-status-details-bin, apprentice-expected-sequence";

impl<S, B> tower_service::Service<Request<B>> for OriginCheck<S>
where
    S: tower_service::Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let origin = match self.policy.check(&request) {
            Ok(origin) => origin,
            Err(why) => {
                tracing::warn!("refused a request: {why}");
                let response = Status::permission_denied(why).into_http();
                return Box::pin(async move { Ok(response) });
            }
        };
        let Some(origin) = origin else { return Box::pin(self.inner.call(request)) };
        if request.method() == Method::OPTIONS {
            // The browser's preflight for an allowed origin.
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            let h = response.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, OPTIONS"));
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOW_HEADERS));
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
            h.insert(header::VARY, HeaderValue::from_static("origin"));
            return Box::pin(async move { Ok(response) });
        }
        let call = self.inner.call(request);
        Box::pin(async move {
            let mut response = call.await?;
            let h = response.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE_HEADERS));
            h.insert(header::VARY, HeaderValue::from_static("origin"));
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(host: Option<&str>, origin: Option<&str>) -> Request<()> {
        let mut r = Request::builder().uri("/apprentice.v1.Apprentice/ListSessions");
        if let Some(h) = host {
            r = r.header(header::HOST, h);
        }
        if let Some(o) = origin {
            r = r.header(header::ORIGIN, o);
        }
        r.body(()).unwrap()
    }

    fn loopback_no_token() -> Policy {
        Policy { check_host: true, listening: Some("127.0.0.1".parse().unwrap()), ..Default::default() }
    }

    #[test]
    fn without_a_token_only_loopback_hosts_are_answered() {
        let p = loopback_no_token();
        for ok in
            ["127.0.0.1:50051", "localhost:50051", "LOCALHOST.", "[::1]:7", "127.1.2.3", "app.localhost:80"]
        {
            assert!(p.check(&request(Some(ok), None)).is_ok(), "{ok}");
        }
        for rebound in ["evil.example:50051", "evil.example", "127.0.0.1.evil.example", "[fe80::1]:5"] {
            let why = p.check(&request(Some(rebound), None)).unwrap_err();
            assert!(why.contains("server.allowed_hosts"), "{why}");
        }
        assert!(p.check(&request(None, None)).is_err(), "no host at all");
        let named = Policy { allowed_hosts: vec!["studio.lan".into()], ..loopback_no_token() };
        assert!(named.check(&request(Some("studio.lan:50051"), None)).is_ok());
    }

    #[test]
    fn with_a_token_any_host_but_still_only_known_origins() {
        let p = Policy { check_host: false, ..Default::default() };
        assert!(p.check(&request(Some("studio.lan:50051"), None)).is_ok());
        assert!(p.check(&request(Some("x"), Some("https://evil.example"))).is_err());
        assert_eq!(
            p.check(&request(Some("x"), Some("http://localhost:3000"))).unwrap(),
            Some(HeaderValue::from_static("http://localhost:3000"))
        );
        let p = Policy { allowed_origins: vec!["https://paint.example/".into()], ..p };
        assert!(p.check(&request(Some("x"), Some("https://paint.example"))).unwrap().is_some());
        assert!(p.check(&request(Some("x"), Some("null"))).is_err(), "sandboxed pages too");
    }
}
