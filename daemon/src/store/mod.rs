//! The session store: every op a plugin sends, durable once acknowledged.
//!
//! One SQLite database (WAL journal, `synchronous = FULL`: a commit is on disk
//! before `append` returns). A batch is one transaction, so a crash leaves
//! either the whole batch or none of it — never a torn record; batches that
//! arrive together share one commit ([`group`]). Ops are stored
//! as their protobuf encoding, one row each, in session order.

use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};

use crate::ops::pb;

mod group;

/// Snapshots kept per session (the newest).
pub const SNAPSHOTS_KEPT: u32 = 8;

/// Bumped when the schema changes; older databases are migrated, newer ones refused.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    id             TEXT PRIMARY KEY,
    document_id    TEXT NOT NULL UNIQUE,
    header         BLOB NOT NULL,
    editor         TEXT NOT NULL,
    editor_version TEXT NOT NULL,
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    next_sequence  INTEGER NOT NULL DEFAULT 0,
    op_count       INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS batches (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    sequence   INTEGER NOT NULL,
    first_op   INTEGER NOT NULL,
    op_count   INTEGER NOT NULL,
    PRIMARY KEY (session_id, sequence)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ops (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    idx        INTEGER NOT NULL,
    op         BLOB NOT NULL,
    PRIMARY KEY (session_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    op_count   INTEGER NOT NULL,
    png        BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (session_id, op_count)
) WITHOUT ROWID;
";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unknown session {0:?}")]
    UnknownSession(String),
    /// A batch out of order: `expected` is the sequence number the store wants next.
    #[error("batch sequence {got} is ahead of the session: the next expected sequence is {expected}")]
    SequenceGap { got: u64, expected: u64 },
    #[error("batch sequence {0} was already stored with different ops")]
    SequenceReused(u64),
    #[error(
        "document {document_id:?} was opened with a {had_w}x{had_h} canvas, now {w}x{h}: open a new document id"
    )]
    CanvasChanged { document_id: String, had_w: u32, had_h: u32, w: u32, h: u32 },
    #[error("the store's database was written by a newer Apprentice (schema {0})")]
    NewerSchema(i64),
    #[error(
        "the store's database is from an older Apprentice (schema {0}): run `apprentice serve` once to update it"
    )]
    OlderSchema(i64),
    #[error("a stored record is damaged: {0}")]
    Corrupt(String),
    /// Another daemon holds the data folder: two writers would fail each other's appends.
    #[error("{0} is in use by another Apprentice daemon{1}: stop it, or give this one another --data-dir")]
    InUse(String, String),
    /// The disk is full: nothing of the batch was stored.
    #[error("the disk holding the store is full: free some space, then resend ({0})")]
    Full(rusqlite::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The commit this batch was part of failed before it could say how: not stored.
    #[error("the batch was not stored (its commit failed): resend it")]
    Lost,
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A session's bookkeeping (the `SessionInfo` message).
pub type SessionInfo = pb::SessionInfo;

/// What `append` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub next_sequence: u64,
    pub op_count: u64,
    /// The batch had been stored before: a retry, acknowledged again.
    pub duplicate: bool,
}

/// A page of a session's history ([`Store::history_page`]).
#[derive(Debug)]
pub struct Page {
    pub history: pb::History,
    /// `false`: the page stopped where its next op would have passed the byte limit.
    pub complete: bool,
}

pub struct Store {
    conn: Mutex<Connection>,
    /// Appends waiting to be committed together.
    appends: group::Group<Batch, Result<Appended>>,
    /// The single-instance lock on the data folder's store, held while the store is open.
    _lock: Option<std::fs::File>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn decode<M: Message + Default>(what: &str, bytes: &[u8]) -> Result<M> {
    M::decode(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// A full disk is its own error (the client may retry later); anything else stays SQLite's.
fn sqlite(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => StoreError::Full(e),
        _ => StoreError::Sqlite(e),
    }
}

/// Takes the store's single-instance lock (`PATH.lock`, an advisory lock the kernel drops
/// when the process ends, however it ends), naming the holder's pid when it is taken.
fn lock(path: &Path) -> Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    let lock_path = path.with_extension("lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| StoreError::Corrupt(format!("cannot open {}: {e}", lock_path.display())))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor we own; no memory is touched.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() { String::new() } else { format!(" (pid {holder})") };
            return Err(StoreError::InUse(path.display().to_string(), who));
        }
    }
    let _ = file.set_len(0).and_then(|()| file.rewind()).and_then(|_| write!(file, "{}", std::process::id()));
    Ok(file)
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    /// Only one process opens a store this way at a time: a second gets [`StoreError::InUse`].
    pub fn open(path: &Path) -> Result<Store> {
        // SQLite's ":memory:" is a database of this process alone: nothing to lock, and
        // no `:memory:.lock` file left in the working folder.
        if path == Path::new(":memory:") {
            return Store::in_memory();
        }
        let lock = lock(path)?;
        let mut store = Store::init(Connection::open(path)?)?;
        store._lock = Some(lock);
        Ok(store)
    }

    /// Opens an existing store for reading only (`apprentice data --sessions`, beside a
    /// running daemon): nothing is created or migrated.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        use rusqlite::OpenFlags;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        match version {
            SCHEMA_VERSION => Ok(Store { conn: Mutex::new(conn), appends: Default::default(), _lock: None }),
            v if v > SCHEMA_VERSION => Err(StoreError::NewerSchema(v)),
            v => Err(StoreError::OlderSchema(v)),
        }
    }

    /// A private in-memory store (tests, one-shot CLI jobs).
    pub fn in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store> {
        // First, so that even switching the journal waits for a reader instead of failing.
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema(version));
        }
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(Store { conn: Mutex::new(conn), appends: Default::default(), _lock: None })
    }

    /// SQLite's own check of the database file (`PRAGMA quick_check`): `Corrupt` naming
    /// the first problem when the file is damaged.
    pub fn check(&self) -> Result<()> {
        let conn = self.conn();
        let verdict: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
        match verdict.as_str() {
            "ok" => Ok(()),
            _ => Err(StoreError::Corrupt(verdict)),
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions
        // roll back), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens the session of `document_id`, creating it on first use. The header
    /// must be valid; re-opening keeps the stored header.
    pub fn open_session(
        &self,
        document_id: &str,
        header: &pb::Header,
        editor: &str,
        editor_version: &str,
    ) -> Result<SessionInfo> {
        let conn = self.conn();
        let existing: Option<String> = conn
            .query_row("SELECT id FROM sessions WHERE document_id = ?1", [document_id], |r| r.get(0))
            .optional()?;
        if let Some(id) = existing {
            let info = session_info(&conn, &id)?;
            let had = info.header.unwrap_or_default();
            if (had.width, had.height) != (header.width, header.height) {
                return Err(StoreError::CanvasChanged {
                    document_id: document_id.to_owned(),
                    had_w: had.width,
                    had_h: had.height,
                    w: header.width,
                    h: header.height,
                });
            }
            conn.execute(
                "UPDATE sessions SET editor = ?2, editor_version = ?3 WHERE id = ?1",
                params![id, editor, editor_version],
            )?;
            return session_info(&conn, &id);
        }
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        conn.execute(
            "INSERT INTO sessions (id, document_id, header, editor, editor_version, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![id, document_id, header.encode_to_vec(), editor, editor_version, now],
        )?;
        session_info(&conn, &id)
    }

    /// Appends batch `sequence` of validated ops. Batches must come in order
    /// (0, 1, 2, …); a batch already stored is acknowledged again unchanged.
    /// Batches appended at the same time, to any sessions, are committed together
    /// (one flush to disk for all, [`group`]); each is still its own all-or-nothing
    /// unit, and returns once it is on disk.
    pub fn append(&self, session_id: &str, sequence: u64, ops: &[pb::Op]) -> Result<Appended> {
        let batch = Batch {
            session_id: session_id.to_owned(),
            sequence,
            ops: ops.iter().map(Message::encode_to_vec).collect(),
        };
        self.appends.run(batch, |batches| self.write(&batches), || Err(StoreError::Lost))
    }

    /// Writes `batches` in one transaction, each in a savepoint of its own (a batch
    /// refused leaves the others in), and commits once.
    fn write(&self, batches: &[Batch]) -> Vec<Result<Appended>> {
        let mut conn = self.conn();
        // IMMEDIATE: the write lock is taken up front (waiting for busy_timeout), so a reader
        // that started first can never make the commit fail halfway with "database is locked".
        let mut tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => return batches.iter().map(|_| Err(sqlite(again(&e)))).collect(),
        };
        let mut results: Vec<Result<Appended>> = batches
            .iter()
            .map(|batch| {
                let savepoint = tx.savepoint()?;
                let appended = append_batch(&savepoint, batch)?;
                // Dropped without commit (an error above), the savepoint rolls back.
                savepoint.commit().map_err(sqlite)?;
                Ok(appended)
            })
            .collect();
        if let Err(e) = tx.commit() {
            for result in results.iter_mut().filter(|r| r.is_ok()) {
                *result = Err(sqlite(again(&e)));
            }
        }
        results
    }

    pub fn session(&self, session_id: &str) -> Result<SessionInfo> {
        session_info(&self.conn(), session_id)
    }

    /// The session's whole history, in order.
    pub fn history(&self, session_id: &str) -> Result<pb::History> {
        Ok(self.history_page(session_id, 0, 0, usize::MAX)?.history)
    }

    /// Ops `start..start + max` of the session (`max` 0: to the end), with its header,
    /// read only while they fit in `max_bytes` encoded: a page that would not fit is
    /// not held in memory whole, and says how many of its ops fit.
    pub fn history_page(&self, session_id: &str, start: u64, max: u64, max_bytes: usize) -> Result<Page> {
        let conn = self.conn();
        let info = session_info(&conn, session_id)?;
        let header = info.header.unwrap_or_default();
        let from = start.min(info.op_count);
        let to = if max == 0 { info.op_count } else { from.saturating_add(max).min(info.op_count) };
        let budget = max_bytes.saturating_sub(prost::Message::encoded_len(&header) + 16);
        let (ops, complete) = load_ops(&conn, session_id, &header, from, to, budget)?;
        Ok(Page { history: pb::History { header: Some(header), ops }, complete })
    }

    /// Deletes a session with everything stored for it: `(ops, snapshots)` removed.
    pub fn delete_session(&self, session_id: &str) -> Result<(u64, u64)> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        session_info(&tx, session_id)?;
        let ops = tx.execute("DELETE FROM ops WHERE session_id = ?1", [session_id])?;
        let snapshots = tx.execute("DELETE FROM snapshots WHERE session_id = ?1", [session_id])?;
        tx.execute("DELETE FROM batches WHERE session_id = ?1", [session_id])?;
        tx.execute("DELETE FROM sessions WHERE id = ?1", [session_id])?;
        tx.commit().map_err(sqlite)?;
        Ok((ops as u64, snapshots as u64))
    }

    /// Every session, most recently updated first.
    pub fn list(&self) -> Result<Vec<SessionInfo>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id FROM sessions ORDER BY updated_ms DESC, id")?;
        let ids: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        ids.iter().map(|id| session_info(&conn, id)).collect()
    }

    /// Keeps a PNG of the editor's canvas as it stood after `op_count` ops; only the
    /// newest [`SNAPSHOTS_KEPT`] of a session are kept (they are caches of what its ops
    /// paint, so pruning loses nothing a plugin stored).
    pub fn put_snapshot(&self, session_id: &str, op_count: u64, png: &[u8]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        session_info(&tx, session_id)?;
        tx.execute(
            "INSERT OR REPLACE INTO snapshots (session_id, op_count, png, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![session_id, op_count, png, now_ms()],
        )
        .map_err(sqlite)?;
        tx.execute(
            "DELETE FROM snapshots WHERE session_id = ?1 AND op_count NOT IN
             (SELECT op_count FROM snapshots WHERE session_id = ?1 ORDER BY op_count DESC LIMIT ?2)",
            params![session_id, SNAPSHOTS_KEPT],
        )?;
        tx.commit().map_err(sqlite)?;
        Ok(())
    }

    /// The most recent snapshot at or before `op_count` ops: `(op_count, png)`.
    pub fn snapshot_at(&self, session_id: &str, op_count: u64) -> Result<Option<(u64, Vec<u8>)>> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT op_count, png FROM snapshots WHERE session_id = ?1 AND op_count <= ?2
                 ORDER BY op_count DESC LIMIT 1",
                params![session_id, op_count],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}

fn session_info(conn: &Connection, id: &str) -> Result<SessionInfo> {
    let row = conn
        .query_row(
            "SELECT document_id, header, editor, editor_version, created_ms, updated_ms, next_sequence, op_count
             FROM sessions WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, u64>(6)?,
                    r.get::<_, u64>(7)?,
                ))
            },
        )
        .optional()?
        .ok_or_else(|| StoreError::UnknownSession(id.to_owned()))?;
    let (document_id, header, editor, editor_version, created_ms, updated_ms, next_sequence, op_count) = row;
    let header: pb::Header = decode("session header", &header)?;
    // Checked as on the way in: a damaged or hand-edited record must not reach the engine.
    crate::ops::validate::header(&header)
        .map_err(|e| StoreError::Corrupt(format!("session {id}: stored header: {e}")))?;
    Ok(SessionInfo {
        session_id: id.to_owned(),
        document_id,
        header: Some(header),
        editor,
        editor_version,
        op_count,
        next_sequence,
        created_ms,
        updated_ms,
    })
}

/// Ops `from..to`, validated, while their encoded size in a `History` stays within
/// `budget` bytes; `false` with the ops that fitted when the next would not.
/// One batch of a group commit: ops encoded by the caller's thread.
pub(crate) struct Batch {
    session_id: String,
    sequence: u64,
    ops: Vec<Vec<u8>>,
}

/// A commit's error once more, for each batch it fails (SQLite's errors are not `Clone`).
fn again(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

/// Stores `batch` in the open transaction `conn`, or says why not.
fn append_batch(conn: &Connection, batch: &Batch) -> Result<Appended> {
    let Batch { session_id, sequence, ops } = batch;
    let sequence = *sequence;
    let (next, count): (u64, u64) = conn
        .query_row("SELECT next_sequence, op_count FROM sessions WHERE id = ?1", [session_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?
        .ok_or_else(|| StoreError::UnknownSession(session_id.to_owned()))?;

    if sequence < next {
        let (first, n): (u64, u64) = conn.query_row(
            "SELECT first_op, op_count FROM batches WHERE session_id = ?1 AND sequence = ?2",
            params![session_id, sequence],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        // Equal ops encode to equal bytes: the stored encodings are compared as they are.
        let mut stmt = conn.prepare_cached(
            "SELECT op FROM ops WHERE session_id = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
        )?;
        let stored = stmt
            .query_map(params![session_id, first, first + n], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if &stored != ops {
            return Err(StoreError::SequenceReused(sequence));
        }
        return Ok(Appended { next_sequence: next, op_count: count, duplicate: true });
    }
    if sequence > next {
        return Err(StoreError::SequenceGap { got: sequence, expected: next });
    }
    {
        let mut insert = conn.prepare_cached("INSERT INTO ops (session_id, idx, op) VALUES (?1, ?2, ?3)")?;
        for (i, op) in ops.iter().enumerate() {
            insert.execute(params![session_id, count + i as u64, op]).map_err(sqlite)?;
        }
    }
    let new_count = count + ops.len() as u64;
    conn.execute(
        "INSERT INTO batches (session_id, sequence, first_op, op_count) VALUES (?1, ?2, ?3, ?4)",
        params![session_id, sequence, count, ops.len() as u64],
    )
    .map_err(sqlite)?;
    conn.execute(
        "UPDATE sessions SET next_sequence = ?2, op_count = ?3, updated_ms = ?4 WHERE id = ?1",
        params![session_id, sequence + 1, new_count, now_ms()],
    )
    .map_err(sqlite)?;
    Ok(Appended { next_sequence: sequence + 1, op_count: new_count, duplicate: false })
}

fn load_ops(
    conn: &Connection,
    session_id: &str,
    header: &pb::Header,
    from: u64,
    to: u64,
    budget: usize,
) -> Result<(Vec<pb::Op>, bool)> {
    let mut stmt = conn.prepare_cached(
        "SELECT idx, op FROM ops WHERE session_id = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
    )?;
    let rows = stmt
        .query_map(params![session_id, from, to], |r| Ok((r.get::<_, u64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    let mut ops = Vec::with_capacity(((to - from) as usize).min(1 << 16));
    let mut bytes = 0usize;
    for (expected, row) in (from..).zip(rows) {
        let (idx, stored) = row?;
        if idx != expected {
            return Err(StoreError::Corrupt(format!("session {session_id}: op {expected} is missing")));
        }
        // A stored op is an encoded `Op`: in a History it costs a tag, its length and itself.
        bytes += 1 + prost::encoding::encoded_len_varint(stored.len() as u64) + stored.len();
        if bytes > budget {
            return Ok((ops, false));
        }
        let op: pb::Op = decode(&format!("session {session_id} op {idx}"), &stored)?;
        crate::ops::validate::op(&op, header)
            .map_err(|e| StoreError::Corrupt(format!("session {session_id} op {idx}: {e}")))?;
        ops.push(op);
    }
    if ops.len() as u64 != to - from {
        return Err(StoreError::Corrupt(format!(
            "session {session_id}: ops {}..{to} are missing",
            from + ops.len() as u64
        )));
    }
    Ok((ops, true))
}

#[cfg(test)]
mod tests;
