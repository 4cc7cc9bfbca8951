//! The phone a top-up goes to: an area code (DDD) that exists and a number of a length that
//! exists. Stricter than Carat's formats (`phone.ddd` `= 2 N`, `phone.number` `< 9 N`), so the
//! storefront hears of its own mistake before Carat is called.

use std::fmt;

use super::format::{Charset, Format, FormatError};
use super::ids::carat_string;

/// The area codes (Códigos Nacionais, "DDD") Anatel assigns, per its Plano Geral de Códigos
/// Nacionais (PGCN): 67 codes, 11 to 99 with gaps (no 20, 23, 25, 26, 29, 30, 36, 39, 40, 50,
/// 52, 56-60, 70, 72, 76, 78, 80, 90). Cross-checked against the state-by-state list in
/// pt.wikipedia.org "Discagem direta à distância" (PGCN section).
const ASSIGNED_DDDS: [u8; 67] = [
    11, 12, 13, 14, 15, 16, 17, 18, 19, // SP
    21, 22, 24, // RJ
    27, 28, // ES
    31, 32, 33, 34, 35, 37, 38, // MG
    41, 42, 43, 44, 45, 46, // PR
    47, 48, 49, // SC
    51, 53, 54, 55, // RS
    61, // DF
    62, 64, // GO
    63, // TO
    65, 66, // MT
    67, // MS
    68, // AC
    69, // RO
    71, 73, 74, 75, 77, // BA
    79, // SE
    81, 87, // PE
    82, // AL
    83, // PB
    84, // RN
    85, 88, // CE
    86, 89, // PI
    91, 93, 94, // PA
    92, 97, // AM
    95, // RR
    96, // AP
    98, 99, // MA
];

fn assigned_ddd(value: &str) -> Result<(), FormatError> {
    // The format check ran first: two ASCII digits.
    let code: u8 = value.parse().map_err(|_| NOT_ASSIGNED)?;
    if ASSIGNED_DDDS.contains(&code) {
        Ok(())
    } else {
        Err(NOT_ASSIGNED)
    }
}

const NOT_ASSIGNED: FormatError =
    FormatError::Rule("must be a Brazilian area code in use (11 to 99, as Anatel assigns them)");

carat_string!(
    /// Phone area code: Carat's `= 2 N`, and one Anatel assigned.
    Ddd,
    Format::exactly(2, Charset::Numeric),
    rule = assigned_ddd
);

carat_string!(
    /// Phone number without area code: 8 digits (landline) or 9 (mobile), within Carat's
    /// `< 9 N`. A 9-digit number is not required to start with 9 (Anatel's mobile prefix):
    /// neither the seeds nor the digest say Carat requires it, and Carat's own effectuation
    /// example sends `123456789`; whether a number exists is the carrier's to say.
    PhoneNumber,
    Format::between(8, 9, Charset::Numeric)
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddd_is_one_anatel_assigned() {
        for ok in [
            "11", "19", "21", "27", "38", "41", "49", "55", "61", "69", "79", "89", "99",
        ] {
            assert!(Ddd::parse(ok).is_ok(), "{ok}");
        }
        for unassigned in [
            "00", "01", "10", "20", "23", "26", "30", "50", "52", "60", "70", "90",
        ] {
            assert_eq!(Ddd::parse(unassigned), Err(NOT_ASSIGNED), "{unassigned}");
        }
        assert_eq!(
            Ddd::parse("1").unwrap_err().to_string(),
            "must be exactly 2 digits (found 1)"
        );
        assert!(Ddd::parse("1a").is_err());
        assert_eq!(
            NOT_ASSIGNED.to_string(),
            "must be a Brazilian area code in use (11 to 99, as Anatel assigns them)"
        );
    }

    #[test]
    fn the_assigned_list_has_each_code_once() {
        let mut sorted = ASSIGNED_DDDS;
        sorted.sort_unstable();
        assert!(sorted.windows(2).all(|w| w[0] < w[1]));
        assert!(ASSIGNED_DDDS.iter().all(|c| (11..=99).contains(c)));
    }

    #[test]
    fn phone_number_is_eight_or_nine_digits() {
        assert!(PhoneNumber::parse("987654321").is_ok());
        assert!(PhoneNumber::parse("32345678").is_ok());
        assert!(PhoneNumber::parse("123456789").is_ok(), "Carat's example");
        assert_eq!(
            PhoneNumber::parse("123").unwrap_err().to_string(),
            "must be 8 or 9 digits (found 3)"
        );
        assert!(PhoneNumber::parse("9876543210").is_err());
        assert!(PhoneNumber::parse("98765432a").is_err());
    }

    #[test]
    fn deserializes_only_when_valid() {
        assert!(serde_json::from_str::<Ddd>("\"11\"").is_ok());
        let e = serde_json::from_str::<Ddd>("\"00\"").unwrap_err();
        assert!(e.to_string().contains("area code in use"), "{e}");
    }
}
