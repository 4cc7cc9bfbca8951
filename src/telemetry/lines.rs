//! The lines, written by [`Lines`], not by `tracing-subscriber`'s own formats, so that a field
//! appears once in a line: its formatter appends a span field each time it is recorded (the
//! request span's `recharge_id` is recorded by the path and again when the recharge is loaded:
//! `recharge_id=X recharge_id=X`), and prints an event's field beside the same field of its
//! span. Here a span keeps one value per field ([`SpanFields`]), and a field already shown with
//! the same value by an enclosing span is not shown again.

mod human;
mod json;

use std::fmt;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogFormat;

/// A field's value as recorded: text that is quoted in a human line (`record_str`), text shown
/// as is (Display and Debug values, the message), or a JSON number or boolean.
#[derive(Clone, Debug, PartialEq)]
enum FieldValue {
    Quoted(String),
    Plain(String),
    Scalar(Value),
}

/// Fields in the order first recorded, each once: recording one again replaces its value.
#[derive(Clone, Debug, Default)]
struct Fields(Vec<(&'static str, FieldValue)>);

impl Fields {
    fn set(&mut self, name: &'static str, value: FieldValue) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    fn get(&self, name: &str) -> Option<&FieldValue> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    fn scalar(&mut self, field: &Field, value: Option<serde_json::Number>, text: String) {
        let value = match value {
            Some(n) => FieldValue::Scalar(Value::Number(n)),
            None => FieldValue::Plain(text),
        };
        self.set(field.name(), value);
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), FieldValue::Quoted(value.to_owned()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), FieldValue::Scalar(Value::Bool(value)));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.scalar(field, Some(value.into()), value.to_string());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.scalar(field, Some(value.into()), value.to_string());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        // NaN and infinities are no JSON number: shown as text.
        self.scalar(
            field,
            serde_json::Number::from_f64(value),
            value.to_string(),
        );
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field.name(), FieldValue::Plain(format!("{value:?}")));
    }
}

/// Keeps each span's fields as [`Fields`], in the span's extensions, for [`Lines`].
pub(super) struct SpanFields;

impl<S> Layer<S> for SpanFields
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut fields = Fields::default();
            attrs.record(&mut fields);
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(fields);
        }
    }
}

/// One line per event, human-readable or JSON.
pub(super) struct Lines {
    pub(super) format: LogFormat,
}

/// An event as a line shows it: the spans from the root, each with only the fields not already
/// shown with the same value, and the event's fields not already shown by a span.
struct Line {
    timestamp: String,
    level: Level,
    target: String,
    spans: Vec<(&'static str, Fields)>,
    fields: Fields,
}

impl Line {
    fn of<S, N>(ctx: &FmtContext<'_, S, N>, event: &Event<'_>) -> Self
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        let mut timestamp = String::new();
        let _ = SystemTime.format_time(&mut Writer::new(&mut timestamp));
        let mut recorded = Fields::default();
        event.record(&mut recorded);
        // Events from the `log` crate carry their origin as `log.*` fields.
        let target = match recorded.get("log.target") {
            Some(FieldValue::Quoted(t) | FieldValue::Plain(t)) => t.clone(),
            _ => event.metadata().target().to_owned(),
        };
        let mut shown = Fields::default();
        let mut spans = Vec::new();
        for span in ctx.event_scope().into_iter().flat_map(|s| s.from_root()) {
            let mut own = Fields::default();
            if let Some(fields) = span.extensions().get::<Fields>() {
                for (name, value) in &fields.0 {
                    if shown.get(name) != Some(value) {
                        own.set(name, value.clone());
                        shown.set(name, value.clone());
                    }
                }
            }
            spans.push((span.name(), own));
        }
        let mut fields = Fields::default();
        for (name, value) in recorded.0 {
            if !name.starts_with("log.") && shown.get(name) != Some(&value) {
                fields.set(name, value);
            }
        }
        Line {
            timestamp,
            level: *event.metadata().level(),
            target,
            spans,
            fields,
        }
    }
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let line = Line::of(ctx, event);
        match self.format {
            LogFormat::Human => human::write(&line, &mut writer),
            LogFormat::Json => json::write(&line, &mut writer),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::Response;
    use tower_http::trace::OnResponse;
    use tracing_subscriber::EnvFilter;

    use super::*;
    use crate::telemetry::captured::Captured;
    use crate::telemetry::{AccessLog, subscriber};

    /// What a request's span logs when the path and then the loaded recharge record its id,
    /// and a warning inside it names the recharge too.
    fn lines(format: LogFormat) -> Vec<String> {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = subscriber(
            format,
            EnvFilter::new("info"),
            move || writer.clone(),
            false,
        );
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                method = "GET",
                recharge_id = tracing::field::Empty,
                nit = tracing::field::Empty,
            );
            let _entered = span.enter();
            span.record("recharge_id", tracing::field::display("r-1"));
            span.record("recharge_id", tracing::field::display("r-1"));
            span.record("nit", tracing::field::display("n-1"));
            let inner = tracing::info_span!("reconcile", recharge_id = %"r-1", nit = "n-2");
            inner.in_scope(|| {
                tracing::warn!(recharge_id = %"r-1", status = 502u16, "outcome unknown");
            });
            AccessLog.on_response(
                &Response::builder().status(502).body(()).unwrap(),
                Duration::from_micros(1500),
                &span,
            );
        });
        let text = captured.text();
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn a_human_line_shows_each_field_once() {
        let lines = lines(LogFormat::Human);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].contains(
                r#" WARN request{method="GET" recharge_id=r-1 nit=n-1}:reconcile{nit="n-2"}: carat_merchant::telemetry::lines::tests: outcome unknown status=502"#
            ),
            "{}",
            lines[0]
        );
        assert_eq!(lines[1].matches("recharge_id=").count(), 1, "{}", lines[1]);
        assert!(
            lines[1].contains(": carat_merchant::telemetry: finished processing request"),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].ends_with("finished processing request status=502 latency_ms=1.5"),
            "{}",
            lines[1]
        );
        assert!(lines.iter().all(|l| !l.contains('\x1b')));
    }

    #[test]
    fn a_json_line_has_each_key_once_and_latency_as_a_number() {
        let lines = lines(LogFormat::Json);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let warning: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(warning["level"], "WARN");
        assert_eq!(warning["status"], 502);
        assert!(warning.get("recharge_id").is_none(), "{warning}");
        assert_eq!(warning["span"]["recharge_id"], "r-1");
        assert_eq!(warning["span"]["nit"], "n-2", "the inner span's value");
        assert_eq!(warning["span"]["name"], "reconcile");
        let access: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(access["latency_ms"], 1.5);
        assert_eq!(access["level"], "WARN", "a 502 is Carat's, not ours");
        assert!(lines[0].starts_with(r#"{"timestamp":"#), "{}", lines[0]);
    }
}
