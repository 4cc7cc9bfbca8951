//! Human-readable lines, as `tracing-subscriber`'s own format writes them, colour codes only
//! when the writer has ANSI escapes on.

use std::fmt;

use tracing::Level;
use tracing_subscriber::fmt::format::Writer;

use super::{FieldValue, Line};

/// `2026-12-06T19:18:56.200347Z  INFO request{method=POST …}: target: message k=v …`, as
/// `tracing-subscriber`'s own format writes it.
pub(super) fn write(line: &Line, w: &mut Writer<'_>) -> fmt::Result {
    let level = format!("{:>5}", line.level.as_str());
    if w.has_ansi_escapes() {
        let colour = match line.level {
            Level::ERROR => 31,
            Level::WARN => 33,
            Level::INFO => 32,
            Level::DEBUG => 34,
            _ => 35,
        };
        write!(w, "{} \x1b[{colour}m{level}\x1b[0m ", line.timestamp)?;
    } else {
        write!(w, "{} {level} ", line.timestamp)?;
    }
    for (name, fields) in &line.spans {
        w.write_str(name)?;
        if !fields.0.is_empty() {
            w.write_char('{')?;
            human_fields(&fields.0, w)?;
            w.write_char('}')?;
        }
        w.write_char(':')?;
    }
    if !line.spans.is_empty() {
        w.write_char(' ')?;
    }
    write!(w, "{}: ", line.target)?;
    let (message, rest): (Vec<_>, Vec<_>) = line
        .fields
        .0
        .iter()
        .cloned()
        .partition(|(name, _)| *name == "message");
    if let Some((_, FieldValue::Plain(m) | FieldValue::Quoted(m))) = message.first() {
        w.write_str(m)?;
        if !rest.is_empty() {
            w.write_char(' ')?;
        }
    }
    human_fields(&rest, w)?;
    writeln!(w)
}

fn human_fields(fields: &[(&'static str, FieldValue)], w: &mut Writer<'_>) -> fmt::Result {
    for (i, (name, value)) in fields.iter().enumerate() {
        let sep = if i == 0 { "" } else { " " };
        match value {
            FieldValue::Quoted(s) => write!(w, "{sep}{name}={s:?}")?,
            FieldValue::Plain(s) => write!(w, "{sep}{name}={s}")?,
            FieldValue::Scalar(v) => write!(w, "{sep}{name}={v}")?,
        }
    }
    Ok(())
}
