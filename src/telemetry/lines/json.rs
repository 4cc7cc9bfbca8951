//! JSON lines: one object per event, each key once.

use std::fmt;

use serde_json::Value;
use tracing_subscriber::fmt::format::Writer;

use super::{FieldValue, Fields, Line};

/// `{"timestamp":…,"level":…,"message":…,<fields>,"target":…,"span":{"name":…,<fields>}}`: the
/// event's fields flattened, and under `span` the fields of every span it is in, an inner
/// span's value winning. Each key once, in that order.
pub(super) fn write(line: &Line, w: &mut Writer<'_>) -> fmt::Result {
    let mut top = JsonObject::default();
    top.field("timestamp", &line.timestamp.as_str().into())?;
    top.field("level", &line.level.as_str().into())?;
    if let Some(message) = line.fields.get("message") {
        top.field("message", &json_value(message))?;
    }
    for (name, value) in &line.fields.0 {
        top.field(name, &json_value(value))?;
    }
    top.field("target", &line.target.as_str().into())?;
    if let Some((name, _)) = line.spans.last() {
        let mut merged = Fields::default();
        for (name, value) in line.spans.iter().flat_map(|(_, f)| &f.0) {
            merged.set(name, value.clone());
        }
        let mut span = JsonObject::default();
        span.field("name", &(*name).into())?;
        for (name, value) in &merged.0 {
            span.field(name, &json_value(value))?;
        }
        top.raw("span", &span.finish())?;
    }
    w.write_str(&top.finish())?;
    writeln!(w)
}

/// A JSON object written key by key in order; a key already written is skipped.
#[derive(Default)]
struct JsonObject {
    text: String,
    keys: Vec<String>,
}

impl JsonObject {
    fn field(&mut self, key: &str, value: &Value) -> fmt::Result {
        self.raw(key, &value.to_string())
    }

    /// `key` with a value already written as JSON.
    fn raw(&mut self, key: &str, json: &str) -> fmt::Result {
        if self.keys.iter().any(|k| k == key) {
            return Ok(());
        }
        self.text.push(if self.keys.is_empty() { '{' } else { ',' });
        self.keys.push(key.to_owned());
        let key = serde_json::to_string(key).map_err(|_| fmt::Error)?;
        self.text.push_str(&key);
        self.text.push(':');
        self.text.push_str(json);
        Ok(())
    }

    fn finish(mut self) -> String {
        if self.keys.is_empty() {
            self.text.push('{');
        }
        self.text.push('}');
        self.text
    }
}

fn json_value(value: &FieldValue) -> Value {
    match value {
        FieldValue::Quoted(s) | FieldValue::Plain(s) => Value::String(s.clone()),
        FieldValue::Scalar(v) => v.clone(),
    }
}
