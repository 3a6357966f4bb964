//! A mutation fuzzer on stable Rust for everything the daemon reads from outside:
//! history files (JSON Lines and binary), PNG pictures, tokens the model could emit,
//! and every RPC, handled in-process by the real service on a real store.
//!
//! Inputs start from the corpus in `tests/fuzz-corpus/` (and the examples) and are
//! mutated (bit flips, byte runs, interesting values, splices, truncation). Each input
//! must be handled without a panic and within [`HANG`]; findings are written to a
//! folder for replay. Coverage-guided fuzzing (afl, libFuzzer) needs a nightly or an
//! LLVM plug-in build this project cannot count on, so this is the dumb-but-long kind:
//! `cargo run --release -p apprentice-e2e --bin fuzz -- --secs 600` for a long run, a
//! smoke run in the test suite.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apprentice::ops::{HistoryFormat, history, pb, validate};
use apprentice::server::service::{Limits, Service};
use apprentice::store::Store;
use apprentice::tokenizer::{ALL_FIELDS, OpToken, Tokenizer, kind};
use pb::apprentice_server::Apprentice;
use prost::Message;
use tokio_stream::StreamExt;

/// An input that takes longer than this is a hang.
pub const HANG: Duration = Duration::from_secs(5);

/// What a fuzz run found.
#[derive(Debug, Default)]
pub struct Report {
    pub target: &'static str,
    pub inputs: u64,
    pub panics: Vec<PathBuf>,
    pub hangs: Vec<PathBuf>,
    pub slowest: Duration,
}

/// A small deterministic generator (xorshift*), so a run is reproducible from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\x00",
    b"\xff",
    b"\x7f",
    b"\x80",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x80",
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
    b"-1",
    b"1e39",
    b"NaN",
    b"4294967295",
    b"18446744073709551615",
    b"\"\"",
    b"null",
    b"[]",
    b"{}",
];

/// One mutation of `input`, sometimes spliced with `other`.
pub fn mutate(input: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next_u64() as u8;
            }
            2 => {
                let value = INTERESTING[rng.below(INTERESTING.len())];
                let end = (at + value.len()).min(out.len());
                out.splice(at..end, value.iter().copied());
            }
            3 if !out.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            4 if !out.is_empty() => {
                // Repeat a run (grows lists, nests messages).
                let start = rng.below(out.len());
                let end = (start + 1 + rng.below(64)).min(out.len());
                let run = out[start..end].to_vec();
                out.splice(at..at, run);
            }
            5 if !other.is_empty() => {
                let from = rng.below(other.len());
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
            _ => out.truncate(at),
        }
    }
    out
}

fn corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

pub fn corpus_dir() -> PathBuf {
    crate::repo_root().join("tests/fuzz-corpus")
}

/// Runs `one` on inputs made by `make` for `budget`, catching panics and timing each.
fn drive(
    target: &'static str,
    budget: Duration,
    max_inputs: u64,
    findings: &Path,
    mut make: impl FnMut(&mut Rng) -> Vec<u8>,
    mut one: impl FnMut(&[u8]),
    seed: u64,
) -> Report {
    let mut rng = Rng::new(seed);
    let mut report = Report { target, ..Default::default() };
    let start = Instant::now();
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    while start.elapsed() < budget && report.inputs < max_inputs {
        let input = make(&mut rng);
        let t = Instant::now();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| one(&input)));
        let took = t.elapsed();
        report.slowest = report.slowest.max(took);
        let save = |kind: &str| {
            std::fs::create_dir_all(findings).expect("findings folder");
            let path = findings.join(format!("{target}-{kind}-{}", report.inputs));
            std::fs::write(&path, &input).expect("write finding");
            path
        };
        if outcome.is_err() {
            report.panics.push(save("panic"));
        } else if took > HANG {
            report.hangs.push(save("hang"));
        }
        report.inputs += 1;
    }
    std::panic::set_hook(quiet);
    report
}

/// History files: parsing then validation, both formats.
pub fn histories(budget: Duration, max_inputs: u64, findings: &Path, seed: u64) -> Report {
    let mut seeds = corpus(&corpus_dir().join("history"));
    seeds.extend(corpus(&crate::examples_dir()));
    let make = |rng: &mut Rng| {
        let (a, b) = (&seeds[rng.below(seeds.len())], &seeds[rng.below(seeds.len())]);
        mutate(a, b, rng)
    };
    let one = |input: &[u8]| {
        for format in [HistoryFormat::JsonLines, HistoryFormat::Binary] {
            if let Ok(h) = history::read(input, Some(format)) {
                // What read accepts is valid; rendering it must work too (small canvases only).
                validate::history(&h).expect("read returns validated histories");
                let header = h.header.clone().unwrap_or_default();
                if u64::from(header.width) * u64::from(header.height) <= 1 << 20 {
                    apprentice::canvas_view::render(&h);
                }
            }
        }
    };
    drive("history", budget, max_inputs, findings, make, one, seed)
}

/// PNG pictures: header checks, then bounded decoding.
pub fn pngs(budget: Duration, max_inputs: u64, findings: &Path, seed: u64) -> Report {
    let seeds = corpus(&corpus_dir().join("png"));
    let make = |rng: &mut Rng| {
        let (a, b) = (&seeds[rng.below(seeds.len())], &seeds[rng.below(seeds.len())]);
        let mut png = mutate(a, b, rng);
        // Mostly with checksums that match, so the decoder gets past them to the data.
        if rng.below(4) != 0 {
            fix_crcs(&mut png);
        }
        png
    };
    let one = |input: &[u8]| {
        if let Ok(img) = apprentice::canvas_view::decode_png(input, 1 << 20) {
            assert!(u64::from(img.width()) * u64::from(img.height()) <= 1 << 20);
        }
        let _ = apprentice::canvas_view::canvas_from_png(input, 16, 16);
    };
    drive("png", budget, max_inputs, findings, make, one, seed)
}

/// PNG's CRC-32 (also used by tests that craft PNG headers).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Rewrites the CRC of every whole chunk after the PNG signature.
fn fix_crcs(png: &mut [u8]) {
    let mut at = 8;
    while at + 12 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes")) as usize;
        let Some(end) = (at + 8).checked_add(len).filter(|&e| e + 4 <= png.len()) else { return };
        let crc = crc32(&png[at + 4..end]);
        png[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
}

/// Tokens: anything the model's heads could emit decodes to a valid op.
pub fn tokens(budget: Duration, max_inputs: u64, findings: &Path, seed: u64) -> Report {
    let make = |rng: &mut Rng| {
        let mut bytes = Vec::new();
        bytes.extend((1 + rng.below(4096) as u32).to_le_bytes());
        bytes.extend((1 + rng.below(4096) as u32).to_le_bytes());
        bytes.extend(rng.next_u64().to_le_bytes());
        bytes
    };
    let one = |input: &[u8]| {
        let w = u32::from_le_bytes(input[0..4].try_into().unwrap());
        let h = u32::from_le_bytes(input[4..8].try_into().unwrap());
        let header = pb::Header { width: w, height: h, ..Default::default() };
        let tokenizer = Tokenizer::new(&header);
        let mut rng = Rng::new(u64::from_le_bytes(input[8..16].try_into().unwrap()));
        let mut token = OpToken::default();
        for field in ALL_FIELDS {
            token.set(field, rng.below(usize::from(field.vocab())) as u16);
        }
        token.set(ALL_FIELDS[0], 1 + rng.below(usize::from(kind::COUNT) - 1) as u16);
        let op = tokenizer.decode(&token);
        validate::op(&op, &header)
            .unwrap_or_else(|e| panic!("token {token:?} decodes to an invalid op: {e}"));
    };
    drive("tokens", budget, max_inputs, findings, make, one, seed)
}

/// Valid requests of every RPC, the seeds the RPC target mutates: `(method, encoded)`.
fn rpc_seeds(session: &str) -> Vec<(usize, Vec<u8>)> {
    let header = pb::Header { width: 48, height: 32, ..Default::default() };
    let stroke = pb::Op {
        kind: Some(pb::op::Kind::Stroke(pb::Stroke {
            tool: pb::Tool::Brush as i32,
            brush: Some(pb::BrushState { size: 4.0, ..Default::default() }),
            points: vec![
                pb::Point { x: 3.0, y: 4.0, ..Default::default() },
                pb::Point { x: 20.0, y: 9.0, ..Default::default() },
            ],
        })),
    };
    let history = pb::History { header: Some(header.clone()), ops: vec![stroke.clone(), stroke.clone()] };
    let png = apprentice::canvas_view::png_of(&apprentice::canvas_view::render(&history), 0).0;
    let dab = pb::MagicBrush {
        path: vec![pb::PathPoint { x: 10.0, y: 10.0 }],
        radius: 4.0,
        strength: 0.5,
        ..Default::default()
    };
    vec![
        (
            0,
            pb::OpenSessionRequest {
                document_id: "fuzz".into(),
                header: Some(header),
                editor: "f".into(),
                editor_version: "1".into(),
            }
            .encode_to_vec(),
        ),
        (
            1,
            pb::AppendOpsRequest { session_id: session.into(), sequence: 1, ops: vec![stroke] }
                .encode_to_vec(),
        ),
        (
            2,
            pb::UploadSnapshotRequest {
                session_id: session.into(),
                op_count: 1,
                image: Some(pb::upload_snapshot_request::Image::Png(png.clone())),
            }
            .encode_to_vec(),
        ),
        (3, pb::GetHistoryRequest { session_id: session.into(), start_op: 0, max_ops: 2 }.encode_to_vec()),
        (4, pb::ListSessionsRequest {}.encode_to_vec()),
        (
            5,
            pb::ContinueRequest {
                source: Some(pb::continue_request::Source::History(history.clone())),
                count: 2,
                reference_png: png,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            5,
            pb::ContinueRequest {
                source: Some(pb::continue_request::Source::SessionId(session.into())),
                count: 2,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            6,
            pb::RenderRequest {
                source: Some(pb::render_request::Source::History(history.clone())),
                max_side: 16,
            }
            .encode_to_vec(),
        ),
        (
            7,
            pb::MagicBrushRequest {
                source: Some(pb::magic_brush_request::Source::History(history)),
                dab: Some(dab),
                steps: 1,
            }
            .encode_to_vec(),
        ),
        (8, pb::GetInfoRequest {}.encode_to_vec()),
        (9, pb::DeleteSessionRequest { session_id: "not-a-session".into() }.encode_to_vec()),
    ]
}

/// Every RPC, in-process, on the real service over a real (temporary) store. Inputs are
/// mutated encodings; those protobuf cannot decode are tonic's to refuse and are skipped.
pub fn rpcs(budget: Duration, max_inputs: u64, findings: &Path, seed: u64) -> Report {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("fuzz.sqlite3")).unwrap());
    // Small limits, so that no valid-looking request can take long.
    let limits = Limits {
        max_ops_per_batch: 64,
        max_continue_ops: 4,
        max_magic_pixels: 64 * 64,
        max_work_mib: 64,
        max_message_bytes: 1 << 20,
        canvas_cache_mib: 16,
    };
    let service = Service::new(store, limits);
    let header = pb::Header { width: 48, height: 32, ..Default::default() };
    let open = pb::OpenSessionRequest {
        document_id: "fuzz".into(),
        header: Some(header),
        editor: "f".into(),
        editor_version: "1".into(),
    };
    let session =
        runtime.block_on(service.open_session(tonic::Request::new(open))).unwrap().into_inner().session_id;
    let seeds = rpc_seeds(&session);
    let make = |rng: &mut Rng| {
        let (method, a) = &seeds[rng.below(seeds.len())];
        let b = &seeds[rng.below(seeds.len())].1;
        let mut input = vec![*method as u8];
        input.extend(if rng.below(8) == 0 { a.clone() } else { mutate(a, b, rng) });
        input
    };
    let one = |input: &[u8]| runtime.block_on(call(&service, input[0], &input[1..]));
    let report = drive("rpc", budget, max_inputs, findings, make, one, seed);
    drop(service);
    report
}

async fn call(service: &Service, method: u8, bytes: &[u8]) {
    use tonic::Request;
    fn req<M: Message + Default>(bytes: &[u8]) -> Option<Request<M>> {
        M::decode(bytes).ok().map(Request::new)
    }
    let run = async {
        let status = match method {
            0 => service.open_session(req(bytes)?).await.err(),
            1 => service.append_ops(req(bytes)?).await.err(),
            2 => service.upload_snapshot(req(bytes)?).await.err(),
            3 => service.get_history(req(bytes)?).await.err(),
            4 => service.list_sessions(req(bytes)?).await.err(),
            5 => match service.r#continue(req(bytes)?).await {
                Ok(stream) => {
                    let events: Vec<_> = stream.into_inner().collect().await;
                    let ops = events.iter().flatten().filter_map(|e| e.op.as_ref());
                    assert!(ops.clone().all(|op| op.kind.is_some()), "Continue streamed an empty op");
                    events.into_iter().find_map(Result::err)
                }
                Err(e) => Some(e),
            },
            6 => service.render(req(bytes)?).await.err(),
            7 => match service.magic_brush(req(bytes)?).await {
                Ok(stream) => stream.into_inner().collect::<Vec<_>>().await.into_iter().find_map(Result::err),
                Err(e) => Some(e),
            },
            8 => service.get_info(req(bytes)?).await.err(),
            _ => service.delete_session(req::<pb::DeleteSessionRequest>(bytes)?).await.err(),
        };
        // INTERNAL is a bug: a panic in a worker task, or a store error on good input.
        if let Some(s) = status.filter(|s| s.code() == tonic::Code::Internal) {
            panic!("method {method}: INTERNAL {}", s.message());
        }
        Some(())
    };
    // A request past the hang limit is reported by the driver; this keeps a stuck one from
    // stopping the run.
    let _ = tokio::time::timeout(2 * HANG, run).await;
}
