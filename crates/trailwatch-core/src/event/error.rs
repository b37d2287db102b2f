//! Errors of the decode step. Each names the input and the place in it: the
//! 0-based record index where a record was identified, else the byte offset
//! into the decompressed stream.

use std::fmt;
use std::io;

/// Where in an input a problem sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 0-based index of the record among the records of this input, when the
    /// problem belongs to one record.
    pub record: Option<u64>,
    /// Byte offset into the decompressed content.
    pub offset: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.record {
            Some(r) => write!(f, "record {r} (byte {})", self.offset),
            None => write!(f, "byte {}", self.offset),
        }
    }
}

/// What went wrong while decoding an input.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("failed to read {source_name}: {error}")]
    Io {
        source_name: String,
        #[source]
        error: io::Error,
    },
    #[error(
        "truncated or corrupt gzip in {source_name} after {offset} decompressed bytes: {error}"
    )]
    Gzip {
        source_name: String,
        offset: u64,
        #[source]
        error: io::Error,
    },
    #[error("{source_name} is empty: no CloudTrail records")]
    Empty { source_name: String },
    #[error("{source_name} has \"Records\": null at byte {offset}: no CloudTrail records")]
    NullRecords { source_name: String, offset: u64 },
    #[error("failed to decode {at} of {source_name}: {message}")]
    Syntax {
        source_name: String,
        at: Position,
        message: String,
    },
    #[error("failed to decode {at} of {source_name}: {message}")]
    Record {
        source_name: String,
        at: Position,
        message: String,
    },
    #[error("{at} of {source_name} is larger than the {limit}-byte record limit; skipped")]
    RecordTooLarge {
        source_name: String,
        at: Position,
        limit: usize,
    },
    #[error(
        "{source_name} decompresses to more than the {limit}-byte limit; stopped reading (a gzip bomb, or raise --max-decompressed)"
    )]
    DecompressedTooLarge { source_name: String, limit: u64 },
    #[error("{source_name} ends inside {at}: unexpected end of JSON")]
    Truncated { source_name: String, at: Position },
}

impl DecodeError {
    /// The input (file path, object key or `-`) the error belongs to.
    pub fn source_name(&self) -> &str {
        match self {
            Self::Io { source_name, .. }
            | Self::Gzip { source_name, .. }
            | Self::Empty { source_name }
            | Self::NullRecords { source_name, .. }
            | Self::Syntax { source_name, .. }
            | Self::Record { source_name, .. }
            | Self::RecordTooLarge { source_name, .. }
            | Self::DecompressedTooLarge { source_name, .. }
            | Self::Truncated { source_name, .. } => source_name,
        }
    }

    /// True when the error concerns one record and the rest of the input was
    /// still read; false when reading the input stopped here.
    pub fn is_record_level(&self) -> bool {
        matches!(
            self,
            Self::Syntax { .. } | Self::Record { .. } | Self::RecordTooLarge { .. }
        )
    }

    /// True when the input is not all there: it could not be read, its gzip
    /// or JSON stops short, or it is empty. A file still being written
    /// looks like this; reading it again later may succeed.
    pub fn is_incomplete(&self) -> bool {
        matches!(
            self,
            Self::Io { .. } | Self::Gzip { .. } | Self::Empty { .. } | Self::Truncated { .. }
        )
    }

    /// The byte offset into the decompressed content, where known.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Self::Gzip { offset, .. } | Self::NullRecords { offset, .. } => Some(*offset),
            Self::Syntax { at, .. }
            | Self::Record { at, .. }
            | Self::RecordTooLarge { at, .. }
            | Self::Truncated { at, .. } => Some(at.offset),
            _ => None,
        }
    }

    /// The 0-based record index, where the error belongs to one record.
    pub fn record_index(&self) -> Option<u64> {
        match self {
            Self::Syntax { at, .. }
            | Self::Record { at, .. }
            | Self::RecordTooLarge { at, .. }
            | Self::Truncated { at, .. } => at.record,
            _ => None,
        }
    }
}
