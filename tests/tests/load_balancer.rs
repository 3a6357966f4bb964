//! Beyond one machine: calls that carry their own history (Continue, Render, MagicBrush)
//! served by two daemons behind a stock gRPC load balancer, nginx's `grpc_pass`
//! (Debian's nginx; tests/run.sh installs it).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use apprentice_e2e::Daemon;
use apprentice_proto::v1 as pb;
use pb::apprentice_client::ApprenticeClient;
use pb::op::Kind;
use tokio_stream::StreamExt;

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// nginx in the foreground (one process, so that killing it leaves nothing behind) on `port`, balancing round-robin over `upstreams`, logging
/// which upstream served each call.
fn nginx(dir: &std::path::Path, port: u16, upstreams: &[&str]) -> Nginx {
    let servers: String = upstreams.iter().map(|u| format!("server {u};")).collect();
    let d = dir.display();
    let conf = format!(
        "daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log warn;
        events {{ worker_connections 256; }}
        http {{
          log_format upstream '$upstream_addr $status';
          access_log {d}/access.log upstream;
          client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
          uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
          client_max_body_size 64m;
          upstream apprentice {{ {servers} }}
          server {{
            listen 127.0.0.1:{port} http2;
            location / {{
              grpc_pass grpc://apprentice;
              # The client's host, not the upstream's name: the daemons' host check
              # (DNS rebinding) then sees what the client asked for.
              grpc_set_header Host $host;
              grpc_read_timeout 300s;
            }}
          }}
        }}"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx is installed (tests/run.sh installs Debian's nginx-light)");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "nginx did not start: see {d}/error.log");
        std::thread::sleep(Duration::from_millis(50));
    }
    Nginx(child)
}

fn history() -> pb::History {
    let stroke = |i: u32| pb::Op {
        kind: Some(Kind::Stroke(pb::Stroke {
            tool: pb::Tool::Brush as i32,
            brush: Some(pb::BrushState {
                size: 8.0,
                color: Some(pb::Color { r: 0.2, g: 0.4, b: 0.8, a: None }),
                ..Default::default()
            }),
            points: vec![
                pb::Point { x: 10.0, y: 10.0 + 8.0 * i as f32, ..Default::default() },
                pb::Point { x: 100.0, y: 20.0 + 8.0 * i as f32, ..Default::default() },
            ],
        })),
    };
    pb::History {
        header: Some(pb::Header {
            width: 128,
            height: 96,
            background: Some(pb::Color { r: 1.0, g: 1.0, b: 1.0, a: None }),
            ..Default::default()
        }),
        ops: (0..6).map(stroke).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_behind_nginx_serve_calls_that_carry_their_history() {
    let (a, b) = (Daemon::start(&[]), Daemon::start(&[]));
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _nginx = nginx(dir.path(), port, &[&a.address, &b.address]);
    let mut c = ApprenticeClient::connect(format!("http://127.0.0.1:{port}")).await.unwrap();

    let mut rendered = Vec::new();
    for _ in 0..6 {
        let source = Some(pb::render_request::Source::History(history()));
        rendered.push(c.render(pb::RenderRequest { source, max_side: 0 }).await.unwrap().into_inner().png);
    }
    assert!(rendered.windows(2).all(|w| w[0] == w[1]), "every daemon renders the same picture");
    for seed in 0..4 {
        let source = Some(pb::continue_request::Source::History(history()));
        let request = pb::ContinueRequest { source, count: 3, seed, ..Default::default() };
        let events: Vec<_> = c.r#continue(request).await.unwrap().into_inner().collect().await;
        assert_eq!(events.into_iter().collect::<Result<Vec<_>, _>>().unwrap().len(), 3);
    }
    for seed in 0..2 {
        let dab = pb::MagicBrush {
            path: vec![pb::PathPoint { x: 60.0, y: 40.0 }],
            radius: 10.0,
            strength: 0.8,
            seed,
            ..Default::default()
        };
        let source = Some(pb::magic_brush_request::Source::History(history()));
        let request = pb::MagicBrushRequest { source, dab: Some(dab), steps: 1 };
        let events: Vec<_> = c.magic_brush(request).await.unwrap().into_inner().collect().await;
        let last = events.into_iter().last().unwrap().unwrap().event;
        assert!(matches!(last, Some(pb::magic_brush_event::Event::Done(_))), "{last:?}");
    }

    // Both daemons took calls, and every call went well. nginx logs a call after the client
    // has its answer, so the last line may come a moment later.
    let read_log = || std::fs::read_to_string(dir.path().join("access.log")).unwrap_or_default();
    let start = Instant::now();
    while read_log().lines().count() < 12 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = read_log();
    for d in [&a, &b] {
        assert!(log.lines().any(|l| l.starts_with(&d.address)), "{} served nothing:\n{log}", d.address);
    }
    assert!(log.lines().all(|l| l.ends_with(" 200")), "{log}");
    assert_eq!(log.lines().count(), 12, "{log}");
}
