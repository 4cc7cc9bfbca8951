//! Reading a query string or a form body field by field, so that a bad one is answered with
//! a page naming it (never a framework's plain-text rejection, never a 500).

use std::fmt;

/// A field that could not be read, and why: the 4xx page names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub reason: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl From<carat_domain::FieldError> for FieldProblem {
    fn from(e: carat_domain::FieldError) -> Self {
        Self::new(e.field.to_string(), e.reason.to_string())
    }
}

/// The name/value pairs of an `application/x-www-form-urlencoded` text, in order.
#[derive(Clone, Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// `what` names the whole when it cannot be read at all (`query`, `form`).
    /// A value holding a control character (a NUL above all, which PostgreSQL refuses in text
    /// and in JSON) is refused here, naming its field, so that no page turns it into a 5xx.
    pub fn parse(raw: &[u8], what: &str) -> Result<Self, FieldProblem> {
        let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(raw)
            .map_err(|_| FieldProblem::new(what, "is not form-encoded text"))?;
        let control = |c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r');
        if let Some((name, _)) = pairs.iter().find(|(_, v)| v.contains(control)) {
            return Err(FieldProblem::new(
                name.as_str(),
                "holds a control character",
            ));
        }
        Ok(Self(pairs))
    }

    pub fn query(raw: Option<&str>) -> Result<Self, FieldProblem> {
        Self::parse(raw.unwrap_or_default().as_bytes(), "query")
    }

    /// The field's value; a field sent twice is an error (which one was meant?).
    pub fn one(&self, name: &str) -> Result<Option<&str>, FieldProblem> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(FieldProblem::new(name, "is given more than once"));
        }
        Ok(first)
    }

    /// Every value of a field that may repeat (`status=a&status=b`).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The field's value, required and not blank.
    pub fn required(&self, name: &str) -> Result<&str, FieldProblem> {
        match self.one(name)? {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(FieldProblem::new(name, "is required")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_one_or_all() {
        let f = Fields::query(Some("status=a&status=b&q=x%20y&empty=")).unwrap();
        assert_eq!(f.all("status").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(f.one("q").unwrap(), Some("x y"));
        assert_eq!(f.one("missing").unwrap(), None);
        assert_eq!(f.one("status").unwrap_err().field, "status");
        assert_eq!(f.required("empty").unwrap_err().field, "empty");
        assert_eq!(f.required("q").unwrap(), "x y");
        assert!(Fields::query(None).unwrap().one("q").unwrap().is_none());
    }

    #[test]
    fn a_control_character_is_refused_naming_its_field() {
        for raw in ["q=a%00b", "reason=x%07", "q=ok&reason=%1B%5B31m"] {
            let problem = Fields::query(Some(raw)).unwrap_err();
            assert_eq!(
                problem.field,
                raw.rsplit('&').next().unwrap().split('=').next().unwrap()
            );
        }
        let f = Fields::parse(b"reason=line+one%0D%0Aline%09two", "form").unwrap();
        assert_eq!(f.one("reason").unwrap(), Some("line one\r\nline\ttwo"));
    }

    #[test]
    fn form_encoding_is_decoded() {
        let f = Fields::parse(b"reason=called+back%2C+twice&csrf=a%2Bb", "form").unwrap();
        assert_eq!(f.one("reason").unwrap(), Some("called back, twice"));
        assert_eq!(f.one("csrf").unwrap(), Some("a+b"));
    }
}
