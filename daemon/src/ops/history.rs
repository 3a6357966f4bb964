//! History files: a header record, then op records.
//!
//! - JSON Lines (`.jsonl`): one `Record` per line in the proto3 canonical JSON
//!   mapping; blank lines are allowed.
//! - Binary (`.binpb`): the same `Record`s, each prefixed by its length as a
//!   protobuf varint (`writeDelimitedTo` in other runtimes).
//!
//! Both round-trip exactly. Every record is validated as it is read, and an
//! error names its line (or record) and field.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use prost::Message;

use super::limits::MAX_RECORD_BYTES;
use super::pb::{self, record::Kind};
use super::validate;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryFormat {
    JsonLines,
    Binary,
}

impl HistoryFormat {
    /// The format a file name says: `.jsonl`/`.json` or `.binpb`/`.pb`.
    pub fn from_path(path: &Path) -> Option<HistoryFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "jsonl" | "json" | "ndjson" => Some(HistoryFormat::JsonLines),
            "binpb" | "pb" | "bin" => Some(HistoryFormat::Binary),
            _ => None,
        }
    }

    /// Guesses from the first bytes: JSON starts with `{` (after whitespace).
    fn sniff(bytes: &[u8]) -> HistoryFormat {
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') | None => HistoryFormat::JsonLines,
            Some(_) => HistoryFormat::Binary,
        }
    }
}

/// Where in a file something went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// 1-based line of a JSON Lines file.
    Line(usize),
    /// 1-based record of a binary file.
    Record(usize),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Record(n) => write!(f, "record {n}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{at}: {message}")]
    Invalid { at: Position, message: String },
    #[error("empty history: expected a header record")]
    Empty,
}

fn invalid(at: Position, message: impl Into<String>) -> HistoryError {
    HistoryError::Invalid { at, message: message.into() }
}

/// Collects records into a history, enforcing header-first and validating each op.
struct Builder {
    history: Option<pb::History>,
}

impl Builder {
    fn push(&mut self, at: Position, record: pb::Record) -> Result<(), HistoryError> {
        match (record.kind, &mut self.history) {
            (None, _) => Err(invalid(at, "record: empty (expected \"header\" or \"op\")")),
            (Some(Kind::Header(h)), None) => {
                validate::header(&h).map_err(|e| invalid(at, e.to_string()))?;
                self.history = Some(pb::History { header: Some(h), ops: Vec::new() });
                Ok(())
            }
            (Some(Kind::Header(_)), Some(_)) => {
                Err(invalid(at, "header: a second header (a history has exactly one, first)"))
            }
            (Some(Kind::Op(_)), None) => Err(invalid(at, "header: the first record must be the header")),
            (Some(Kind::Op(op)), Some(h)) => {
                let header = h.header.as_ref().expect("set with the history");
                validate::op(&op, header).map_err(|e| invalid(at, e.to_string()))?;
                h.ops.push(op);
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<pb::History, HistoryError> {
        self.history.ok_or(HistoryError::Empty)
    }
}

/// Reads and validates a history, in the format `format` or sniffed from the content.
pub fn read(reader: impl Read, format: Option<HistoryFormat>) -> Result<pb::History, HistoryError> {
    let mut reader = BufReader::new(reader);
    let format = match format {
        Some(f) => f,
        None => HistoryFormat::sniff(reader.fill_buf()?),
    };
    match format {
        HistoryFormat::JsonLines => read_json_lines(reader),
        HistoryFormat::Binary => read_binary(reader),
    }
}

/// Reads a history file; the format comes from its extension, else from its content.
pub fn read_path(path: &Path) -> Result<pb::History, HistoryError> {
    let file = std::fs::File::open(path)?;
    read(file, HistoryFormat::from_path(path))
}

fn read_json_lines(reader: impl BufRead) -> Result<pb::History, HistoryError> {
    let mut builder = Builder { history: None };
    for (i, line) in reader.lines().enumerate() {
        let at = Position::Line(i + 1);
        let line = line.map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => {
                invalid(at, "not UTF-8 text (is this a binary history? name it .binpb)")
            }
            _ => HistoryError::Io(e),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let record: pb::Record =
            serde_json::from_str(&line).map_err(|e| invalid(at, format!("invalid record: {e}")))?;
        builder.push(at, record)?;
    }
    builder.finish()
}

/// Reads one varint; `None` at a clean end of input.
fn read_varint(reader: &mut impl BufRead) -> io::Result<Option<u64>> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let mut byte = [0u8];
        if reader.read(&mut byte)? == 0 {
            return if shift == 0 {
                Ok(None)
            } else {
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file ends inside a length prefix"))
            };
        }
        value |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            return Ok(Some(value));
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidData, "length prefix longer than 10 bytes"))
}

fn read_binary(mut reader: impl BufRead) -> Result<pb::History, HistoryError> {
    let mut builder = Builder { history: None };
    let mut buf = Vec::new();
    for n in 1.. {
        let at = Position::Record(n);
        let len = match read_varint(&mut reader) {
            Ok(Some(len)) => len,
            Ok(None) => break,
            Err(e) => return Err(invalid(at, format!("corrupt length prefix: {e}"))),
        };
        if len > MAX_RECORD_BYTES {
            return Err(invalid(
                at,
                format!("record of {len} bytes exceeds the limit of {MAX_RECORD_BYTES}"),
            ));
        }
        buf.clear();
        let got = (&mut reader).take(len).read_to_end(&mut buf)?;
        if (got as u64) < len {
            return Err(invalid(at, format!("truncated: {len} bytes announced, file ends after {got}")));
        }
        let record =
            pb::Record::decode(buf.as_slice()).map_err(|e| invalid(at, format!("invalid record: {e}")))?;
        builder.push(at, record)?;
    }
    builder.finish()
}

fn records(history: &pb::History) -> impl Iterator<Item = pb::Record> + '_ {
    let header = pb::Record { kind: Some(Kind::Header(history.header.clone().unwrap_or_default())) };
    std::iter::once(header)
        .chain(history.ops.iter().map(|op| pb::Record { kind: Some(Kind::Op(op.clone())) }))
}

/// Writes a history as JSON Lines or binary records.
pub fn write(history: &pb::History, mut out: impl Write, format: HistoryFormat) -> io::Result<()> {
    let mut buf = Vec::new();
    for record in records(history) {
        buf.clear();
        match format {
            HistoryFormat::JsonLines => {
                serde_json::to_writer(&mut buf, &record)?;
                buf.push(b'\n');
            }
            HistoryFormat::Binary => record.encode_length_delimited(&mut buf).map_err(io::Error::other)?,
        }
        out.write_all(&buf)?;
    }
    out.flush()
}

/// Writes a history to `path` in the format its extension names (JSON Lines if none),
/// atomically: a failed write leaves the file that was there whole.
pub fn write_path(history: &pb::History, path: &Path) -> io::Result<()> {
    let format = HistoryFormat::from_path(path).unwrap_or(HistoryFormat::JsonLines);
    crate::files::write_with(path, |out| write(history, out, format))
}
