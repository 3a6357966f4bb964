//! Operations: the contract's types, what their absent fields mean, how they are
//! validated, how undo/redo resolves, and how histories are stored in files.

pub mod brush;
pub mod history;
pub mod limits;
pub mod timeline;
pub mod validate;

pub use apprentice_proto::v1 as pb;
pub use brush::{Brush, Rgba};
pub use history::{HistoryError, HistoryFormat};
pub use validate::FieldError;

/// A history: the header and every op in recorded order (undo/redo markers included).
pub type History = pb::History;
