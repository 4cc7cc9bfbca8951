//! Logs through `tracing`: human-readable or JSON lines, filtered by `LOG_FILTER` (or
//! `RUST_LOG` when set), which the configuration has already checked.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber, writing to stdout. Call once, from `main`.
pub fn init(format: LogFormat, filter: &str) {
    // Checked when the settings were loaded; "info" only guards a filter that stops parsing.
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .with_ansi(colour(format, std::io::stdout().is_terminal()))
        .with_target(true);
    let builder = builder.with_env_filter(filter);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
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
