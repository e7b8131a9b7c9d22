//! How a command ends: the exit code it maps to, and the failures a person reads.
//!
//! Every command returns `Result<Exit, Error>`. [`Exit`] is the documented exit code
//! of a command that ran to its end (valid or not); [`Error`] is a failure that stopped
//! it, with a hint where there is one. Both are the README's "Exit codes" table.

/// The process exit codes, as documented in the README.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Success: valid, all sent.
    Ok,
    /// The scenario is invalid (or, for `run`, something was not sent).
    Invalid,
    /// A usage error, a file that could not be read or written, or a run that could not start.
    Usage,
    /// A run stopped by a signal (Ctrl-C, SIGTERM).
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Invalid => 1,
            Exit::Usage => 2,
            Exit::Interrupted => 130,
        }
    }
}

/// A failure that ends a command; it exits with [`Exit::Usage`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Journal(#[from] crate::journal::OpenError),
    #[error(transparent)]
    Client(#[from] crate::client::Error),
}

impl Error {
    pub fn usage(message: impl Into<String>, hint: Option<&str>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: hint.map(String::from),
        }
    }

    pub fn exit(&self) -> Exit {
        Exit::Usage
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Usage { hint, .. } => hint.as_deref(),
            Error::Journal(crate::journal::OpenError::Locked(_)) => {
                Some("wait for that run to end, or pass a different --journal")
            }
            Error::Client(e) => e.hint(),
            Error::Io(_) | Error::Journal(_) => None,
        }
    }
}
