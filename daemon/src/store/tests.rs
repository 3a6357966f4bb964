use super::*;
use crate::ops::pb::op::Kind;

fn header(w: u32, h: u32) -> pb::Header {
    pb::Header { width: w, height: h, ..Default::default() }
}

fn undo(n: u32) -> pb::Op {
    pb::Op { kind: Some(Kind::Undo(pb::Undo { count: Some(n) })) }
}

fn batch(from: u32, n: u32) -> Vec<pb::Op> {
    (from..from + n).map(undo).collect()
}

#[test]
fn batches_append_in_order_and_read_back() {
    let s = Store::in_memory().unwrap();
    let id = s.open_session("doc-1", &header(64, 32), "krita", "5.2.9").unwrap().session_id;
    assert_eq!(
        s.append(&id, 0, &batch(1, 3)).unwrap(),
        Appended { next_sequence: 1, op_count: 3, duplicate: false }
    );
    assert_eq!(
        s.append(&id, 1, &batch(4, 2)).unwrap(),
        Appended { next_sequence: 2, op_count: 5, duplicate: false }
    );
    let h = s.history(&id).unwrap();
    assert_eq!(h.header, Some(header(64, 32)));
    assert_eq!(h.ops, batch(1, 5));
}

#[test]
fn a_retried_batch_is_acknowledged_without_duplicating() {
    let s = Store::in_memory().unwrap();
    let id = s.open_session("doc", &header(8, 8), "cli", "").unwrap().session_id;
    s.append(&id, 0, &batch(1, 2)).unwrap();
    s.append(&id, 1, &batch(3, 2)).unwrap();
    let again = s.append(&id, 0, &batch(1, 2)).unwrap();
    assert_eq!(again, Appended { next_sequence: 2, op_count: 4, duplicate: true });
    assert_eq!(s.history(&id).unwrap().ops.len(), 4);
}

#[test]
fn a_gap_names_the_expected_sequence_and_a_reused_number_is_refused() {
    let s = Store::in_memory().unwrap();
    let id = s.open_session("doc", &header(8, 8), "cli", "").unwrap().session_id;
    s.append(&id, 0, &batch(1, 1)).unwrap();
    match s.append(&id, 5, &batch(2, 1)) {
        Err(StoreError::SequenceGap { got: 5, expected: 1 }) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(s.append(&id, 0, &batch(9, 1)), Err(StoreError::SequenceReused(0))));
    assert_eq!(s.history(&id).unwrap().ops, batch(1, 1), "refused batches leave no trace");
}

#[test]
fn reopening_a_document_resumes_its_session() {
    let s = Store::in_memory().unwrap();
    let first = s.open_session("doc", &header(8, 8), "krita", "5.2").unwrap();
    s.append(&first.session_id, 0, &batch(1, 2)).unwrap();
    let again = s.open_session("doc", &header(8, 8), "krita", "5.3").unwrap();
    assert_eq!(again.session_id, first.session_id);
    assert_eq!((again.next_sequence, again.op_count, again.editor_version.as_str()), (1, 2, "5.3"));
    assert!(matches!(
        s.open_session("doc", &header(9, 8), "krita", ""),
        Err(StoreError::CanvasChanged { .. })
    ));
    assert!(matches!(s.append("nope", 0, &[]), Err(StoreError::UnknownSession(_))));
}

#[test]
fn acknowledged_ops_survive_reopening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    let id = {
        let s = Store::open(&path).unwrap();
        let id = s.open_session("doc", &header(8, 8), "cli", "").unwrap().session_id;
        s.append(&id, 0, &batch(1, 3)).unwrap();
        id
    };
    let s = Store::open(&path).unwrap();
    assert_eq!(s.history(&id).unwrap().ops, batch(1, 3));
    assert_eq!(s.list().unwrap().len(), 1);
}

#[test]
fn the_latest_snapshot_at_or_before_a_point_is_found() {
    let s = Store::in_memory().unwrap();
    let id = s.open_session("doc", &header(8, 8), "cli", "").unwrap().session_id;
    s.put_snapshot(&id, 2, b"two").unwrap();
    s.put_snapshot(&id, 7, b"seven").unwrap();
    assert_eq!(s.snapshot_at(&id, 1).unwrap(), None);
    assert_eq!(s.snapshot_at(&id, 6).unwrap(), Some((2, b"two".to_vec())));
    assert_eq!(s.snapshot_at(&id, 100).unwrap(), Some((7, b"seven".to_vec())));
}

#[test]
fn a_read_only_store_reads_what_was_stored_and_names_a_schema_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.sqlite3");
    let s = Store::open(&path).unwrap();
    let id = s.open_session("doc", &header(8, 8), "krita", "5.2.9").unwrap().session_id;
    s.append(&id, 0, &batch(1, 3)).unwrap();
    let reader = Store::open_read_only(&path).unwrap();
    assert_eq!(reader.history(&id).unwrap().ops.len(), 3);
    assert!(reader.append(&id, 1, &batch(4, 1)).is_err(), "a reader cannot write");

    let old = dir.path().join("old.sqlite3");
    rusqlite::Connection::open(&old).unwrap().pragma_update(None, "user_version", 0).unwrap();
    let err = Store::open_read_only(&old).err().expect("an older schema is refused");
    assert!(matches!(err, StoreError::OlderSchema(0)), "{err}");
    assert!(err.to_string().contains("run `apprentice serve` once"), "{err}");
}

#[test]
fn only_one_process_opens_a_store_for_writing_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let first = Store::open(&path).unwrap();
    // flock locks are per open file description: a second open in this process is
    // refused just as a second daemon's would be.
    match Store::open(&path) {
        Err(e @ StoreError::InUse(..)) => {
            let message = e.to_string();
            assert!(message.contains(&format!("pid {}", std::process::id())), "{message}");
            assert!(message.contains("another Apprentice daemon"), "{message}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    // Readers beside the daemon are welcome (`apprentice data --sessions`).
    Store::open_read_only(&path).unwrap();
    drop(first);
    Store::open(&path).expect("free again once the first is closed");
}

/// Overwrites a stored column directly, as damage or a hand edit would.
fn tamper(path: &std::path::Path, sql: &str, value: Vec<u8>) {
    let conn = Connection::open(path).unwrap();
    conn.execute(sql, [value]).unwrap();
}

#[test]
fn stored_records_are_checked_again_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let store = Store::open(&path).unwrap();
    let id = store.open_session("doc", &header(64, 64), "cli", "").unwrap().session_id;
    store.append(&id, 0, &batch(1, 2)).unwrap();

    // An op that validation would never have let in (undo count 0).
    tamper(&path, "UPDATE ops SET op = ?1 WHERE idx = 1", undo(0).encode_to_vec());
    match store.history(&id) {
        Err(StoreError::Corrupt(why)) => assert!(why.contains("op 1") && why.contains("undo.count"), "{why}"),
        other => panic!("{other:?}"),
    }
    // A header asking for a canvas no engine should allocate (100000²).
    tamper(&path, "UPDATE sessions SET header = ?1", header(100_000, 100_000).encode_to_vec());
    match store.session(&id) {
        Err(StoreError::Corrupt(why)) => assert!(why.contains("stored header"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(store.check().is_ok(), "the file itself is sound: only records are wrong");
}

#[test]
fn a_damaged_database_file_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    {
        let store = Store::open(&path).unwrap();
        let id = store.open_session("doc", &header(8, 8), "cli", "").unwrap().session_id;
        for seq in 0..40 {
            store.append(&id, seq, &batch(1, 50)).unwrap();
        }
    }
    // Scribble over a page in the middle of the file (past the header page).
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    assert!(len > 3 * 4096, "{len}");
    bytes[2 * 4096..3 * 4096].fill(0xA5);
    std::fs::write(&path, bytes).unwrap();
    let damaged = Store::open(&path).and_then(|s| s.check());
    assert!(matches!(damaged, Err(StoreError::Corrupt(_) | StoreError::Sqlite(_))), "{damaged:?}");
}

#[test]
fn histories_come_in_pages_and_a_deleted_session_is_gone_whole() {
    let s = Store::in_memory().unwrap();
    let id = s.open_session("doc", &header(8, 8), "cli", "").unwrap().session_id;
    s.append(&id, 0, &batch(1, 10)).unwrap();
    let page = |start, max| s.history_page(&id, start, max, usize::MAX).unwrap().history.ops;
    assert_eq!(page(0, 4), batch(1, 4));
    assert_eq!(page(8, 4), batch(9, 2), "the last page is short");
    assert_eq!(page(3, 0), batch(4, 7), "0: to the end");
    assert!(page(99, 4).is_empty());
    // Within a byte limit, a page stops before the op that would pass it, and says so.
    let whole = pb::History { header: Some(header(8, 8)), ops: batch(1, 10) };
    let limit = prost::Message::encoded_len(&whole);
    assert!(s.history_page(&id, 0, 0, limit + 16).unwrap().complete, "the whole history fits");
    let cut = s.history_page(&id, 0, 0, limit / 2).unwrap();
    assert!(!cut.complete);
    assert!((1..10).contains(&cut.history.ops.len()), "{}", cut.history.ops.len());
    assert_eq!(cut.history.ops, batch(1, cut.history.ops.len() as u32));
    s.put_snapshot(&id, 5, b"png").unwrap();

    let other = s.open_session("other", &header(8, 8), "cli", "").unwrap().session_id;
    s.append(&other, 0, &batch(1, 2)).unwrap();
    assert_eq!(s.delete_session(&id).unwrap(), (10, 1));
    assert!(matches!(s.history(&id), Err(StoreError::UnknownSession(_))));
    assert!(matches!(s.delete_session(&id), Err(StoreError::UnknownSession(_))));
    assert_eq!(s.history(&other).unwrap().ops, batch(1, 2), "other sessions untouched");
    // The document can start afresh.
    let again = s.open_session("doc", &header(16, 16), "cli", "").unwrap();
    assert_eq!((again.op_count, again.next_sequence), (0, 0));
}

#[test]
fn only_the_newest_snapshots_of_a_session_are_kept() {
    let s = Store::in_memory().unwrap();
    let id = s.open_session("doc", &header(8, 8), "cli", "").unwrap().session_id;
    s.append(&id, 0, &batch(1, 100)).unwrap();
    for n in 1..=20u64 {
        s.put_snapshot(&id, n * 5, format!("png {n}").as_bytes()).unwrap();
    }
    let kept: Vec<u64> = (0..=100).filter_map(|n| s.snapshot_at(&id, n).unwrap().map(|(k, _)| k)).collect();
    let oldest_kept = 100 - 5 * (u64::from(SNAPSHOTS_KEPT) - 1);
    assert_eq!(kept.iter().min(), Some(&oldest_kept), "{kept:?}");
    assert_eq!(s.snapshot_at(&id, 100).unwrap().unwrap().1, b"png 20");
}

#[test]
fn in_memory_stores_opened_by_path_are_each_their_own_and_lock_nothing() {
    // Two at once: a lock file would make the second one "in use".
    let a = Store::open(Path::new(":memory:")).unwrap();
    let b = Store::open(Path::new(":memory:")).unwrap();
    a.open_session("doc", &header(8, 8), "cli", "").unwrap();
    assert_eq!((a.list().unwrap().len(), b.list().unwrap().len()), (1, 0));
    assert!(!Path::new(":memory:.lock").exists());
}

fn encoded(session_id: &str, sequence: u64, ops: &[pb::Op]) -> Batch {
    Batch {
        session_id: session_id.to_owned(),
        sequence,
        ops: ops.iter().map(Message::encode_to_vec).collect(),
    }
}

#[test]
fn batches_committed_together_are_each_all_or_nothing() {
    let s = Store::in_memory().unwrap();
    let a = s.open_session("a", &header(8, 8), "cli", "").unwrap().session_id;
    let b = s.open_session("b", &header(8, 8), "cli", "").unwrap().session_id;
    // One commit: a's first batch, a batch of b's out of order, b's first, and a's again.
    let results = s.write(&[
        encoded(&a, 0, &batch(1, 2)),
        encoded(&b, 5, &batch(7, 3)),
        encoded(&b, 0, &batch(3, 1)),
        encoded(&a, 0, &batch(1, 2)),
    ]);
    assert_eq!(results[0].as_ref().unwrap(), &Appended { next_sequence: 1, op_count: 2, duplicate: false });
    assert!(matches!(results[1], Err(StoreError::SequenceGap { got: 5, expected: 0 })), "{:?}", results[1]);
    assert_eq!(results[2].as_ref().unwrap(), &Appended { next_sequence: 1, op_count: 1, duplicate: false });
    assert_eq!(results[3].as_ref().unwrap(), &Appended { next_sequence: 1, op_count: 2, duplicate: true });
    assert_eq!(s.history(&a).unwrap().ops, batch(1, 2));
    assert_eq!(s.history(&b).unwrap().ops, batch(3, 1), "the refused batch left no trace");
}

#[test]
fn eight_painters_appending_at_once_lose_nothing_and_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = std::sync::Arc::new(Store::open(&dir.path().join("sessions.sqlite3")).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|p| {
            let s = s.clone();
            std::thread::spawn(move || {
                let id = s.open_session(&format!("doc-{p}"), &header(8, 8), "cli", "").unwrap().session_id;
                for seq in 0..40u32 {
                    let appended = s.append(&id, u64::from(seq), &batch(seq * 5 + 1, 5)).unwrap();
                    assert_eq!(appended.op_count, u64::from(seq + 1) * 5);
                }
                id
            })
        })
        .collect();
    for t in threads {
        let id = t.join().unwrap();
        assert_eq!(s.history(&id).unwrap().ops, batch(1, 200));
    }
}
