//! A web page cannot reach the token-less loopback daemon by DNS rebinding, and browser
//! origins get CORS answers only when allowed.

use std::io::{Read, Write};
use std::net::TcpStream;

use apprentice_e2e::Daemon;
use apprentice_proto::v1 as pb;
use tonic::transport::Endpoint;

/// A gRPC-Web ListSessions over raw HTTP/1.1 with the given Host and Origin; returns the
/// response head (status line and headers, lower-cased) and body.
fn grpc_web(address: &str, host: &str, origin: Option<&str>, method: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(address).unwrap();
    let body = [0u8, 0, 0, 0, 0]; // one empty message frame
    let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} /apprentice.v1.Apprentice/ListSessions HTTP/1.1\r\nHost: {host}\r\n{origin}\
         Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head") + 4;
    (String::from_utf8_lossy(&response[..split]).to_lowercase(), response[split..].to_vec())
}

#[test]
fn a_rebound_host_or_a_foreign_origin_is_refused_without_a_token() {
    let d = Daemon::start(&[]);
    let (head, body) = grpc_web(&d.address, &d.address, None, "POST");
    assert!(head.contains("200 ok") && !head.contains("grpc-status: 7"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("grpc-status:0"), "answered: {body:?}");

    let (head, _) = grpc_web(&d.address, "evil.example:50051", None, "POST");
    assert!(head.contains("grpc-status: 7"), "{head}");
    assert!(head.contains("allowed_hosts"), "the refusal says what to do: {head}");

    let (head, _) = grpc_web(&d.address, &d.address, Some("http://evil.example"), "POST");
    assert!(head.contains("grpc-status: 7") && head.contains("allowed_origins"), "{head}");
    assert!(!head.contains("access-control-allow-origin"), "{head}");
}

#[tokio::test]
async fn http2_clients_are_held_to_the_same_host_rule() {
    let d = Daemon::start(&[]);
    let channel = Endpoint::from_shared(d.url())
        .unwrap()
        .origin("http://evil.example:50051".parse().unwrap())
        .connect()
        .await
        .unwrap();
    let mut c = pb::apprentice_client::ApprenticeClient::new(channel);
    let e = c.list_sessions(pb::ListSessionsRequest {}).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
}

#[test]
fn allowed_origins_get_cors_answers() {
    let d = Daemon::start_with_settings(
        "[server]\nallowed_origins = [\"https://paint.example\"]\nallowed_hosts = [\"studio.lan\"]\n",
    );
    let (head, _) = grpc_web(&d.address, &d.address, Some("https://paint.example"), "OPTIONS");
    assert!(head.contains("204"), "the preflight is answered: {head}");
    assert!(head.contains("access-control-allow-origin: https://paint.example"), "{head}");
    assert!(head.contains("access-control-allow-headers:") && head.contains("x-grpc-web"), "{head}");

    let (head, _) = grpc_web(&d.address, "studio.lan:1", Some("https://paint.example"), "POST");
    assert!(head.contains("200 ok") && !head.contains("grpc-status: 7"), "{head}");
    assert!(head.contains("access-control-expose-headers:") && head.contains("grpc-status"), "{head}");
}
