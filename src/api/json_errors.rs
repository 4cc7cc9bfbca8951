//! serde_json's data errors in a storefront developer's words: no Rust type names
//! (`expected u64`, `struct PhoneChoice with 2 elements`), and no echo of the value sent
//! beyond a short prefix. Pure: the caller supplies what it learnt about the expected shape.

/// Longest stretch of a client's value repeated in a message.
const ECHO_LIMIT: usize = 32;
/// See [`shorten_field`].
const FIELD_LIMIT: usize = 64;

/// What a field was expected to be, when naming its members needs a second look at the type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// An object: its members are the type's fields.
    Object,
    /// One of a set of names: its members are the variants.
    Choice,
}

/// The shape serde's message says was expected, when its members are not in the message.
pub fn expected_shape(message: &str) -> Option<Shape> {
    let expected = message.rsplit_once(", expected ")?.1;
    if expected.starts_with("struct ") {
        Some(Shape::Object)
    } else if expected.starts_with("variant identifier") || expected.starts_with("enum ") {
        Some(Shape::Choice)
    } else {
        None
    }
}

/// The members listed in an `unknown field`/`unknown variant` message (`expected `a` or `b``,
/// `expected one of `a`, `b``): how the caller learns a type's fields or variants.
pub fn listed_members(message: &str) -> Option<Vec<String>> {
    let list = message.split_once(", expected ")?.1;
    let names: Vec<String> = list
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    (!names.is_empty()).then_some(names)
}

/// What to tell the storefront about a field, from serde's `message` (position stripped).
/// `members` are the expected object's fields or choice's names when known; `cents` says the
/// field is an amount in cents.
pub fn plain_words(message: &str, members: Option<&[String]>, cents: bool) -> String {
    if message.starts_with("missing field `") {
        return "is required".to_owned();
    }
    if message.starts_with("duplicate field `") {
        return "appears more than once".to_owned();
    }
    if message.starts_with("unknown field `") {
        return match listed_members(message) {
            Some(fields) => format!("is not a known field; the fields are {}", and_list(&fields)),
            None => "is not a known field; this object has no fields".to_owned(),
        };
    }
    if message.starts_with("unknown variant `") {
        return match listed_members(message) {
            Some(names) => format!("must be one of {}", or_list(&names)),
            None => "is not one of the accepted values".to_owned(),
        };
    }
    let typed = ["invalid type: ", "invalid value: ", "invalid length "]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix));
    let Some((found, expected)) = typed.and_then(|rest| rest.rsplit_once(", expected ")) else {
        // A type's own words (the domain's formats): kept, with any echoed value shortened.
        return truncate_echoes(message);
    };
    let Some(wanted) = expected_words(expected, members, cents) else {
        return "is of the wrong type".to_owned();
    };
    match found_words(found, expected) {
        Some(found) => format!("must be {wanted}, not {found}"),
        None => format!("must be {wanted}"),
    }
}

/// "a string", "a whole number of cents", "an object with ddd and number"...
fn expected_words(expected: &str, members: Option<&[String]>, cents: bool) -> Option<String> {
    let expected = bare(expected);
    if is_integer_type(expected) {
        return Some(if cents {
            "a whole number of cents".to_owned()
        } else {
            "a whole number".to_owned()
        });
    }
    let words = match expected {
        "string" | "borrowed string" | "char" | "character" => "a string".to_owned(),
        "boolean" | "bool" => "true or false".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "sequence" | "tuple" => "an array".to_owned(),
        "map" => "an object".to_owned(),
        _ if expected.starts_with("struct ") => match members {
            Some(fields) if !fields.is_empty() => {
                format!("an object with {}", and_list(fields))
            }
            _ => "an object".to_owned(),
        },
        _ if expected.starts_with("variant identifier") || expected.starts_with("enum ") => {
            match members {
                Some(names) if !names.is_empty() => format!("one of {}", or_list(names)),
                _ => "one of the documented names".to_owned(),
            }
        }
        _ => return None,
    };
    Some(words)
}

/// What was sent instead, by kind only (the value itself is not repeated).
fn found_words(found: &str, expected: &str) -> Option<String> {
    let kind = found.split(' ').next().unwrap_or(found);
    let words = match kind {
        "integer" if found.contains('-') && is_integer_type(bare(expected)) => "negative",
        "integer" => "a number",
        "floating" if is_integer_type(bare(expected)) => "a fraction",
        "floating" => "a number",
        "string" => "a string",
        "boolean" => "true or false",
        "null" | "unit" => "null",
        "map" => "an object",
        "sequence" => "an array",
        _ if found.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
            // `invalid length 1, expected ...`: an array given where an object or list was.
            "an array of another length"
        }
        _ => return None,
    };
    Some(words.to_owned())
}

fn bare(expected: &str) -> &str {
    expected.strip_prefix("a ").unwrap_or(expected)
}

fn is_integer_type(expected: &str) -> bool {
    matches!(
        expected,
        "u8" | "u16"
            | "u32"
            | "u64"
            | "u128"
            | "usize"
            | "i8"
            | "i16"
            | "i32"
            | "i64"
            | "i128"
            | "isize"
            | "integer"
    )
}

fn and_list(names: &[String]) -> String {
    joined(names, "and")
}

fn or_list(names: &[String]) -> String {
    joined(names, "or")
}

fn joined(names: &[String], word: &str) -> String {
    let names: Vec<String> = names.iter().map(|n| shorten(n)).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {word} {last}", rest.join(", ")),
    }
}

/// Drops every stretch between backticks or double quotes (`…` stands for it): for fields whose
/// values are card data.
pub fn without_echoes(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quote: Option<char> = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                quote = None;
            }
            Some(_) => {}
            None => {
                if c == '`' || c == '"' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

/// Shortens every stretch between backticks or double quotes (where serde and the domain's
/// messages put a value) to [`ECHO_LIMIT`] characters.
pub fn truncate_echoes(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(256));
    let mut quote: Option<char> = None;
    let mut quoted = 0usize;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => {
                if quoted > ECHO_LIMIT {
                    out.push('…');
                }
                out.push(c);
                quote = None;
            }
            Some(_) => {
                quoted += 1;
                if quoted <= ECHO_LIMIT {
                    out.push(c);
                }
            }
            None => {
                if c == '`' || c == '"' {
                    quote = Some(c);
                    quoted = 0;
                }
                out.push(c);
            }
        }
    }
    // An unclosed quote ran to the end: say it was cut.
    if quote.is_some() && quoted > ECHO_LIMIT {
        out.push('…');
    }
    out
}

/// `name` cut to [`ECHO_LIMIT`] characters (a field's name is the client's too).
pub fn shorten(name: &str) -> String {
    shorten_to(name, ECHO_LIMIT)
}

/// A field's path cut to [`FIELD_LIMIT`] characters: longer than an echo, since a path of
/// known names nests (`sale.used_payment_methods[0].collected[0].data`), still bounded, since
/// its last name may be the client's.
pub fn shorten_field(path: &str) -> String {
    shorten_to(path, FIELD_LIMIT)
}

fn shorten_to(name: &str, limit: usize) -> String {
    if name.chars().count() > limit {
        let head: String = name.chars().take(limit).collect();
        format!("{head}…")
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(message: &str) -> String {
        plain_words(message, None, false)
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    /// No Rust in what the storefront reads.
    fn assert_plain(text: &str) {
        for rust in [
            "struct",
            "u64",
            "u32",
            "i64",
            "f64",
            "variant",
            "identifier",
            "elements",
            "map",
            "sequence",
            "Choice",
            "Recharge",
        ] {
            assert!(!text.contains(rust), "{rust:?} in {text:?}");
        }
    }

    #[test]
    fn wrong_types_say_what_is_wanted_and_what_came() {
        let cases = [
            (
                "invalid type: integer `1`, expected a string",
                "must be a string, not a number",
            ),
            (
                "invalid type: string \"1000\", expected u64",
                "must be a whole number, not a string",
            ),
            (
                "invalid type: floating point `10.5`, expected u64",
                "must be a whole number, not a fraction",
            ),
            (
                "invalid value: integer `-5`, expected u64",
                "must be a whole number, not negative",
            ),
            (
                "invalid type: string \"yes\", expected a boolean",
                "must be true or false, not a string",
            ),
            (
                "invalid type: null, expected a string",
                "must be a string, not null",
            ),
            (
                "invalid type: map, expected a string",
                "must be a string, not an object",
            ),
            (
                "invalid type: sequence, expected a boolean",
                "must be true or false, not an array",
            ),
            (
                "invalid type: boolean `true`, expected a sequence",
                "must be an array, not true or false",
            ),
            (
                "invalid type: string \"x\", expected struct PhoneChoice",
                "must be an object, not a string",
            ),
            (
                "invalid length 1, expected struct CreateRecharge with 2 elements",
                "must be an object, not an array of another length",
            ),
            (
                "invalid type: integer `1`, expected variant identifier",
                "must be one of the documented names, not a number",
            ),
        ];
        for (serde, plain) in cases {
            assert_eq!(words(serde), plain, "{serde}");
            assert_plain(&words(serde));
        }
    }

    #[test]
    fn amounts_are_cents() {
        assert_eq!(
            plain_words("invalid type: string \"10\", expected u64", None, true),
            "must be a whole number of cents, not a string"
        );
        assert_eq!(
            plain_words(
                "invalid type: floating point `10.5`, expected u64",
                None,
                true
            ),
            "must be a whole number of cents, not a fraction"
        );
    }

    #[test]
    fn objects_and_choices_name_their_members() {
        let fields = names(&["ddd", "number"]);
        assert_eq!(
            plain_words(
                "invalid type: integer `5`, expected struct PhoneChoice",
                Some(&fields),
                false
            ),
            "must be an object with ddd and number, not a number"
        );
        let variants = names(&["normal", "others", "invoice"]);
        assert_eq!(
            plain_words(
                "invalid type: integer `1`, expected variant identifier",
                Some(&variants),
                false
            ),
            "must be one of normal, others or invoice, not a number"
        );
        assert_eq!(
            words("unknown variant `phone`, expected one of `normal`, `others`, `invoice`"),
            "must be one of normal, others or invoice"
        );
        assert_eq!(
            words("unknown variant `x`, expected `only`"),
            "must be one of only"
        );
    }

    #[test]
    fn missing_unknown_and_duplicate_fields() {
        assert_eq!(words("missing field `ddd`"), "is required");
        assert_eq!(words("duplicate field `ddd`"), "appears more than once");
        assert_eq!(
            words("unknown field `colour`, expected `recharge_type` or `order_id`"),
            "is not a known field; the fields are recharge_type and order_id"
        );
        assert_eq!(
            words("unknown field `x`, expected one of `dealer`, `phone`, `amount`"),
            "is not a known field; the fields are dealer, phone and amount"
        );
        assert_eq!(
            words("unknown field `x`, there are no fields"),
            "is not a known field; this object has no fields"
        );
    }

    #[test]
    fn card_fields_echo_nothing() {
        assert_eq!(
            without_echoes("bad `4111111111111111` and \"123\" here"),
            "bad `…` and \"…\" here"
        );
    }

    #[test]
    fn the_value_sent_is_never_echoed_whole() {
        let huge = "A".repeat(1_500_000);
        for message in [
            format!("unknown variant `{huge}`, expected `normal` or `others`"),
            format!("invalid type: string \"{huge}\", expected u64"),
            format!("must be at most 20 characters, was `{huge}`"),
            format!("unclosed `{huge}"),
        ] {
            let plain = words(&message);
            assert!(plain.len() < 200, "{} bytes", plain.len());
        }
        assert_eq!(
            truncate_echoes(&format!("bad `{}` here", "x".repeat(40))),
            format!("bad `{}…` here", "x".repeat(32))
        );
        assert_eq!(truncate_echoes("kept `short` as is"), "kept `short` as is");
    }

    #[test]
    fn domain_messages_pass_through() {
        assert_eq!(
            words("must be = 2 N (found 1 characters)"),
            "must be = 2 N (found 1 characters)"
        );
        assert_eq!(
            words("must be a positive number of cents"),
            "must be a positive number of cents"
        );
    }

    #[test]
    fn shapes_and_members_are_read_from_messages() {
        assert_eq!(
            expected_shape("invalid type: integer `1`, expected struct PhoneChoice"),
            Some(Shape::Object)
        );
        assert_eq!(
            expected_shape("invalid type: integer `1`, expected variant identifier"),
            Some(Shape::Choice)
        );
        assert_eq!(
            expected_shape("invalid type: integer `1`, expected a string"),
            None
        );
        assert_eq!(
            listed_members("unknown field `\u{0}`, expected `ddd` or `number`"),
            Some(names(&["ddd", "number"]))
        );
        assert_eq!(listed_members("missing field `ddd`"), None);
    }

    #[test]
    fn unknown_expectations_do_not_leak_type_names() {
        let plain = words("invalid type: integer `1`, expected something::Weird<T>");
        assert_eq!(plain, "is of the wrong type");
    }
}
