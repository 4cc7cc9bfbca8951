//! What a searched text may name: a recharge's id, order id, NIT, merchant USN, Carat's
//! (e-SiTef) USN, or the phone it topped up, with or without its DDD. Pure.

use uuid::Uuid;

use carat_store::desk::Names;

/// Characters a phone number is written with besides its digits: `+55 (11) 98765-4321`.
const PHONE_PUNCTUATION: &str = " ()-+.";

/// The identifiers `text` may be, each compared exactly; `None` for a blank text.
pub fn names_for(text: &str) -> Option<Names> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let digits_only = text.bytes().all(|b| b.is_ascii_digit());
    // A merchant USN is `< 12 N`.
    let merchant_usn = (digits_only && text.len() <= 12)
        .then(|| text.parse::<i64>().ok())
        .flatten();
    let (phone_ddd, phone_number) = match phone(text) {
        Some((ddd, number)) => (ddd, Some(number)),
        None => (None, None),
    };
    Some(Names {
        text: text.to_owned(),
        id: Uuid::parse_str(text).ok(),
        merchant_usn,
        phone_number,
        phone_ddd,
    })
}

/// The DDD (if given) and number a text writes a Brazilian phone as: 8 or 9 digits alone, or
/// after a 2-digit DDD; a leading country code (55) or trunk prefix (0) is dropped. Only the
/// digits are compared, so punctuation is free.
fn phone(text: &str) -> Option<(Option<String>, String)> {
    if !text
        .chars()
        .all(|c| c.is_ascii_digit() || PHONE_PUNCTUATION.contains(c))
    {
        return None;
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let national = match digits.len() {
        12 | 13 if digits.starts_with("55") => &digits[2..],
        11 | 12 if digits.starts_with('0') => &digits[1..],
        _ if text.starts_with('+') => return None,
        _ => &digits[..],
    };
    match national.len() {
        8 | 9 => Some((None, national.to_owned())),
        10 | 11 => Some((Some(national[..2].to_owned()), national[2..].to_owned())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `phone` answers for a DDD and a number.
    fn is(ddd: Option<&str>, number: &str) -> Option<(Option<String>, String)> {
        Some((ddd.map(str::to_owned), number.to_owned()))
    }

    #[test]
    fn a_phone_matches_with_or_without_its_ddd() {
        assert_eq!(phone("987654321"), is(None, "987654321"));
        assert_eq!(phone("8765-4321"), is(None, "87654321"));
        assert_eq!(phone("11987654321"), is(Some("11"), "987654321"));
        assert_eq!(phone("(11) 98765-4321"), is(Some("11"), "987654321"));
        assert_eq!(phone("+55 11 98765-4321"), is(Some("11"), "987654321"));
        assert_eq!(phone("5511987654321"), is(Some("11"), "987654321"));
        assert_eq!(phone("011 8765 4321"), is(Some("11"), "87654321"));
        assert_eq!(phone("1187654321"), is(Some("11"), "87654321"));
        for not_a_phone in [
            "1234567",
            "123456789012345",
            "ORDER123",
            "11 9876x4321",
            "+1 212 555 0100",
        ] {
            assert_eq!(phone(not_a_phone), None, "{not_a_phone}");
        }
    }

    #[test]
    fn a_text_names_every_identifier_it_can_be() {
        assert_eq!(names_for("   "), None);
        let id = Uuid::new_v4();
        let names = names_for(&format!(" {id} ")).unwrap();
        assert_eq!(
            (names.id, names.text.as_str()),
            (Some(id), &*id.to_string())
        );
        assert_eq!((names.merchant_usn, names.phone_number), (None, None));

        let names = names_for("987654321").unwrap();
        assert_eq!(names.merchant_usn, Some(987654321));
        assert_eq!(names.phone_number.as_deref(), Some("987654321"));
        assert_eq!(names.phone_ddd, None);
        assert_eq!(names.id, None);

        let names = names_for("ORDER42").unwrap();
        assert_eq!(names.text, "ORDER42");
        assert_eq!((names.merchant_usn, names.phone_number), (None, None));

        // Longer than a merchant USN: Carat's USN, or text, only.
        let names = names_for("1234567890123456").unwrap();
        assert_eq!((names.merchant_usn, names.phone_number), (None, None));
    }
}
