//! Typed errors of the library.

use std::fmt;

/// Errors returned by margan's library code.
#[derive(Debug, Clone, PartialEq)]
pub enum MarganError {
    /// A tensor had another shape than the operation needs.
    Shape {
        what: String,
        expected: String,
        got: Vec<usize>,
    },
    /// A configuration value is out of its valid range or unknown.
    Config { field: String, problem: String },
    /// A file or byte buffer is not what it should be.
    Corrupt { what: String, problem: String },
    /// A loss or penalty became NaN or infinite.
    NonFinite {
        what: String,
        iteration: Option<usize>,
    },
    /// The compute backend failed (device lost, a read-back error).
    Backend(String),
}

impl fmt::Display for MarganError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MarganError::Shape {
                what,
                expected,
                got,
            } => {
                write!(f, "{what}: expected shape {expected}, got {got:?}")
            }
            MarganError::Config { field, problem } => write!(f, "config `{field}`: {problem}"),
            MarganError::Corrupt { what, problem } => write!(f, "{what}: {problem}"),
            MarganError::NonFinite { what, iteration } => match iteration {
                Some(i) => write!(f, "{what} is not finite at iteration {i}"),
                None => write!(f, "{what} is not finite"),
            },
            MarganError::Backend(problem) => write!(f, "compute backend: {problem}"),
        }
    }
}

impl std::error::Error for MarganError {}
