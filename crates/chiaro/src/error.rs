//! One error type for the whole engine.
//!
//! Every error carries a [`ErrorKind`] (so callers can tell a hostile file from a bug in a
//! recipe) and, once it has crossed the API boundary, the path of the file it concerns, so the
//! message reads `IMG_1.dng: decode: strip 3 ends past the end of the file`.

use std::fmt;
use std::path::{Path, PathBuf};

/// What went wrong, by responsibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file is corrupt or truncated.
    Decode,
    /// The file is valid but uses a feature chiaro does not handle.
    Unsupported,
    /// The file asks for more memory or work than the limits allow.
    Limits,
    /// A recipe, option or call parameter is wrong.
    Parameter,
    /// Reading or writing the file system failed.
    Io,
    /// Writing an output image failed.
    Encode,
    /// The caller cancelled the work.
    Cancelled,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Decode => "decode",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Limits => "limits",
            ErrorKind::Parameter => "parameter",
            ErrorKind::Io => "io",
            ErrorKind::Encode => "encode",
            ErrorKind::Cancelled => "cancelled",
        })
    }
}

/// The engine's error: a kind, an optional file path and a human-readable reason.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    path: Option<PathBuf>,
    message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            path: None,
            message: message.into(),
        }
    }
    pub fn decode(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Decode, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    pub fn limits(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Limits, message)
    }
    pub fn parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Parameter, message)
    }
    pub fn encode(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Encode, message)
    }
    pub fn io(err: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, err.to_string())
    }

    /// Attaches the file this error concerns (kept if one is already set).
    pub fn with_path(mut self, path: &Path) -> Self {
        if self.path.is_none() {
            self.path = Some(path.to_path_buf());
        }
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}: ", p.display())?;
        }
        // One line per error, whatever a third-party message contained.
        write!(
            f,
            "{}: {}",
            self.kind,
            self.message.replace(['\n', '\r'], " ")
        )
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::io(e)
    }
}

pub type Result<T> = std::result::Result<T, Error>;
