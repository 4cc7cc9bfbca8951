//! The documented formats, written again from the documentation's words and nothing of the
//! code under test: the property tests and the fuzz target (`fuzz/fuzz_targets/callback_form.rs`
//! includes this file) compare the service's parsers with these. Plain std, so both can use it.

/// `AN` on identifiers: ASCII letters and digits, nothing else.
pub fn ascii_alphanumerics(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b.is_ascii_lowercase())
}

/// `N`: ASCII digits, nothing else.
pub fn ascii_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// `= n AN`. (All-ASCII, so bytes are characters.)
pub fn alphanumerics_exactly(s: &str, n: usize) -> bool {
    s.len() == n && ascii_alphanumerics(s)
}

/// `< n AN`: one to n of them (the docs' `<` means "up to"; empty is never a value).
pub fn alphanumerics_up_to(s: &str, n: usize) -> bool {
    (1..=n).contains(&s.len()) && ascii_alphanumerics(s)
}

/// `= n N`.
pub fn digits_exactly(s: &str, n: usize) -> bool {
    s.len() == n && ascii_digits(s)
}

/// `min` to `max` ASCII digits (the phone number: 8 for a landline, 9 for a mobile).
pub fn digits_between(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && ascii_digits(s)
}

/// An area code in use: two ASCII digits from 11 to 99, less the codes Anatel never assigned
/// (written here as the gaps, the complement of the domain's list, so the two are independent).
pub fn assigned_ddd(s: &str) -> bool {
    const NEVER_ASSIGNED: [u8; 22] = [
        20, 23, 25, 26, 29, 30, 36, 39, 40, 50, 52, 56, 57, 58, 59, 60, 70, 72, 76, 78, 80, 90,
    ];
    digits_exactly(s, 2)
        && s.parse::<u8>()
            .is_ok_and(|n| n >= 11 && !NEVER_ASSIGNED.contains(&n))
}

/// `< n N`.
pub fn digits_up_to(s: &str, n: usize) -> bool {
    (1..=n).contains(&s.len()) && ascii_digits(s)
}

/// `< n AN` on free text: one to n characters (not bytes), none of them a control character
/// (Unicode's Cc: U+0000 to U+001F and U+007F to U+009F).
pub fn text_up_to(s: &str, n: usize) -> bool {
    let control = |c: char| c <= '\u{1f}' || ('\u{7f}'..='\u{9f}').contains(&c);
    (1..=n).contains(&s.chars().count()) && !s.chars().any(control)
}

/// Decodes an `application/x-www-form-urlencoded` body as the URL Standard says: split on
/// `&` (empty pieces dropped), name and value split at the first `=` (none: empty value), `+`
/// is a space, `%` and two hex digits is that byte (any other `%` is itself), then UTF-8 with
/// U+FFFD for bytes that are not.
pub fn decode_form(body: &[u8]) -> Vec<(String, String)> {
    fn decode(part: &[u8]) -> String {
        let hex_at = |part: &[u8], i: usize| {
            let b = *part.get(i)?;
            (b as char).to_digit(16).map(|d| d as u8)
        };
        let mut out = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            match part[i] {
                b'+' => out.push(b' '),
                b'%' => match (hex_at(part, i + 1), hex_at(part, i + 2)) {
                    (Some(high), Some(low)) => {
                        out.push(high * 16 + low);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                },
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.iter().position(|&b| b == b'=') {
            Some(at) => (decode(&piece[..at]), decode(&piece[at + 1..])),
            None => (decode(piece), String::new()),
        })
        .collect()
}

/// Whether a value is of a parameter's format.
pub type Rule = fn(&str) -> bool;

/// The authenticity POST's parameters in the order they are validated, with their documented
/// formats (`nit = 64 AN`, `merchantId < 15 AN`, `orderId < 20 AN`, `merchantUSN < 12 N`,
/// `generalHash = 16 AN`).
pub const FIELDS: [(&str, Rule); 5] = [
    ("nit", |v| alphanumerics_exactly(v, 64)),
    ("merchantId", |v| alphanumerics_up_to(v, 15)),
    ("orderId", |v| alphanumerics_up_to(v, 20)),
    ("merchantUSN", |v| digits_up_to(v, 12)),
    ("generalHash", |v| alphanumerics_exactly(v, 16)),
];

/// What the authenticity POST's parser must answer for a body.
#[derive(Debug, PartialEq, Eq)]
pub enum Expected {
    /// Every parameter once and of its format; the values decoded, in `FIELDS`' order.
    Accepted([String; 5]),
    /// A known parameter given twice is ambiguous: refused as malformed, naming it.
    Repeated(&'static str),
    /// The first parameter (in `FIELDS`' order) missing or not of its format.
    Field(&'static str),
}

pub fn expected(body: &[u8]) -> Expected {
    let pairs = decode_form(body);
    let mut values: [Option<String>; 5] = Default::default();
    // Unknown parameters are ignored, repeated or not.
    for (name, value) in pairs {
        if let Some(i) = FIELDS.iter().position(|(known, _)| *known == name) {
            if values[i].is_some() {
                return Expected::Repeated(FIELDS[i].0);
            }
            values[i] = Some(value);
        }
    }
    for (i, (name, valid)) in FIELDS.iter().enumerate() {
        match &values[i] {
            Some(v) if valid(v) => {}
            _ => return Expected::Field(name),
        }
    }
    Expected::Accepted(values.map(Option::unwrap))
}

/// Runs the service's parser on `body` and panics unless it answers as `expected` says.
pub fn assert_parse_post_agrees(body: &[u8]) {
    use carat_wire::callbacks::authenticity::{PostError, parse_post};

    let got = parse_post(body);
    match (expected(body), got) {
        (Expected::Accepted(want), Ok(post)) => {
            let got = [
                post.nit.as_str().to_owned(),
                post.merchant_id.as_str().to_owned(),
                post.order_id.as_str().to_owned(),
                post.merchant_usn.get().to_string(),
                post.general_hash.as_str().to_owned(),
            ];
            let mut want = want;
            // merchantUSN is kept as a number: leading zeros are not part of its value.
            want[3] = want[3].parse::<u64>().unwrap().to_string();
            assert_eq!(got, want, "body {:?}", String::from_utf8_lossy(body));
        }
        (Expected::Repeated(name), Err(PostError::Malformed(e))) => {
            let text = PostError::Malformed(e).to_string();
            assert!(
                text.contains(&format!("`{name}`")),
                "{text:?} does not name {name}"
            );
        }
        (Expected::Field(name), Err(PostError::Field(e))) => {
            assert_eq!(
                e.field,
                name,
                "body {:?}: {e}",
                String::from_utf8_lossy(body)
            );
            assert!(e.to_string().starts_with(&format!("{name}: ")), "{e}");
        }
        (want, got) => panic!(
            "body {:?}: expected {want:?}, parser answered {got:?}",
            String::from_utf8_lossy(body)
        ),
    }
}
