//! Logs through `tracing`: human-readable or JSON lines, filtered by `LOG_FILTER` (or
//! `RUST_LOG` when set), which the configuration has already checked.
//!
//! `access` logs each request's access line at a level by who is at fault; `lines` writes
//! the lines, each field once.

mod access;
#[cfg(test)]
pub(crate) mod captured;
mod lines;

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;
use lines::{Lines, SpanFields};

pub use access::{AccessLog, FailureLog, NotAFault};

/// Installs the global subscriber, writing to stdout. Call once, from `main`.
pub fn init(format: LogFormat, filter: &str) {
    // Checked when the settings were loaded; "info" only guards a filter that stops parsing.
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = colour(format, std::io::stdout().is_terminal());
    subscriber(format, filter, std::io::stdout, ansi).init();
}

/// The subscriber [`init`] installs, writing to `writer` (tests capture it).
fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(filter)
        .with(SpanFields)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(ansi)
                .event_format(Lines { format }),
        )
}

/// Colour codes only for human-readable lines to a terminal: a file or a pipe (a log
/// collector) would keep them as garbage.
fn colour(format: LogFormat, to_terminal: bool) -> bool {
    matches!(format, LogFormat::Human) && to_terminal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_for_human_lines_to_a_terminal() {
        assert!(colour(LogFormat::Human, true));
        assert!(!colour(LogFormat::Human, false));
        assert!(!colour(LogFormat::Json, true));
        assert!(!colour(LogFormat::Json, false));
    }
}
