//! A short pass of the fuzzer over every target (the long run is `--bin fuzz`, see the
//! README): no input may panic or hang.

use std::time::Duration;

use apprentice_e2e::fuzz;

fn clean(r: fuzz::Report) {
    assert!(r.inputs > 0, "{}: no inputs ran", r.target);
    assert!(r.panics.is_empty() && r.hangs.is_empty(), "{}: findings {:?} {:?}", r.target, r.panics, r.hangs);
}

fn findings() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("apprentice-fuzz-findings-{}", std::process::id()))
}

#[test]
fn histories_never_panic() {
    clean(fuzz::histories(Duration::from_secs(10), 3000, &findings(), 7));
}

#[test]
fn pngs_never_panic() {
    clean(fuzz::pngs(Duration::from_secs(10), 3000, &findings(), 7));
}

#[test]
fn every_token_decodes_to_a_valid_op() {
    clean(fuzz::tokens(Duration::from_secs(10), 20_000, &findings(), 7));
}

#[test]
fn every_rpc_handles_mangled_requests() {
    clean(fuzz::rpcs(Duration::from_secs(20), 600, &findings(), 7));
}

#[test]
fn the_mutator_is_deterministic_and_changes_its_input() {
    let (mut a, mut b) = (fuzz::Rng::new(3), fuzz::Rng::new(3));
    let input = b"{\"header\":{\"width\":8}}".to_vec();
    let outs: Vec<_> = (0..50).map(|_| fuzz::mutate(&input, b"xyz", &mut a)).collect();
    assert_eq!(outs, (0..50).map(|_| fuzz::mutate(&input, b"xyz", &mut b)).collect::<Vec<_>>());
    assert!(outs.iter().filter(|o| **o != input).count() > 40);
}

#[test]
fn inputs_the_fuzzer_once_broke_are_refused_cleanly() {
    // Each file here made a decoder panic before it was handled; now each is a clean error.
    let dir = fuzz::corpus_dir().join("png-findings");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let e = apprentice::canvas_view::decode_png(&bytes, 1 << 20).unwrap_err();
        assert!(e.contains("not a readable PNG"), "{e}");
        seen += 1;
    }
    assert!(seen > 0);
}
