//! One error type for the whole engine.
//!
//! Every error carries a [`ErrorKind`] (so callers can tell a hostile file from a bug in a
//! recipe) and, once it has crossed the API boundary, the path of the file it concerns, so the
//! message reads `IMG_1.dng: decode: strip 3 ends past the end of the file`.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
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

/// A boxed underlying error (an I/O error, a third-party decoder's error, ...).
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The engine's error: a kind, an optional file path, an optional pipeline stage, a
/// human-readable reason and an optional underlying error.
///
/// Displayed on one line as `FILE: STAGE: KIND: MESSAGE` (file and stage when known). The
/// message is self-contained (it already says what the source said), so a reporter prints
/// the error's `Display` and need not walk [`std::error::Error::source`], which is there
/// for programs that want to inspect the cause (for example downcast it to
/// [`std::io::Error`]). Control characters and other non-printable characters in the path
/// and the message (which may come from file data: a camera's Make tag, a third-party
/// decoder's message) are escaped, see [`printable`].
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    path: Option<PathBuf>,
    stage: Option<&'static str>,
    message: String,
    source: Option<Source>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            path: None,
            stage: None,
            message: message.into(),
            source: None,
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
    /// An I/O error; its text is the message and the error itself the source.
    pub fn io(err: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, err.to_string()).with_source(err)
    }

    /// Attaches the file this error concerns (kept if one is already set).
    pub fn with_path(mut self, path: &Path) -> Self {
        if self.path.is_none() {
            self.path = Some(path.to_path_buf());
        }
        self
    }

    /// Attaches the pipeline stage (or reader step) the error happened in, such as
    /// `"demosaic"` (kept if one is already set, so the innermost stage wins).
    pub fn in_stage(mut self, stage: &'static str) -> Self {
        if self.stage.is_none() {
            self.stage = Some(stage);
        }
        self
    }

    /// Attaches the underlying error (replaces any earlier one). The message should still
    /// say what went wrong on its own: `Display` does not print the source.
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
    pub fn stage(&self) -> Option<&'static str> {
        self.stage
    }
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}: ", printable(&p.to_string_lossy()))?;
        }
        if let Some(s) = self.stage {
            write!(f, "{s}: ")?;
        }
        // One line per error, whatever a third-party message or a file's tags contained.
        write!(f, "{}: {}", self.kind, printable(&self.message))
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// True for characters that must not reach a terminal or a one-line report as they are:
/// control characters (C0, DEL, C1: escape sequences, bells, line breaks) and the invisible
/// format characters that reorder or hide text (bidirectional overrides, zero-width
/// characters, line and paragraph separators, the byte-order mark).
pub fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// Text safe to print on one line: tabs and line breaks become spaces, other control and
/// invisible format characters are escaped as `\u{1b}`. Borrowed when nothing changes.
/// Use it for every string that comes from file data (EXIF Make and Model, decoder
/// messages); [`Error`]'s `Display` applies it to the path and the message.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unprintable) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' | '\n' | '\r' => out.push(' '),
            c if is_unprintable(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::io(e)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_escaped_line_with_file_and_stage() {
        let e = Error::decode("make \"Evil\x1b[31m\" said\nhello\u{202e}")
            .in_stage("demosaic")
            .in_stage("outer")
            .with_path(Path::new("a\x07.dng"));
        let s = e.to_string();
        assert_eq!(
            s,
            "a\\u{7}.dng: demosaic: decode: make \"Evil\\u{1b}[31m\" said hello\\u{202e}"
        );
        assert!(!s.chars().any(|c| c.is_control()));
        assert_eq!(e.stage(), Some("demosaic"));
        assert_eq!(Error::limits("x").to_string(), "limits: x");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn io_errors_keep_their_source() {
        use std::error::Error as _;
        let e = Error::io(std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
        assert_eq!(e.to_string(), "io: gone");
        let src = e.source().expect("source");
        let io = src.downcast_ref::<std::io::Error>().expect("an io::Error");
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        let e = Error::decode("bad").with_source(Error::limits("inner"));
        assert_eq!(
            e.source().map(|s| s.to_string()).as_deref(),
            Some("limits: inner")
        );
    }
}
