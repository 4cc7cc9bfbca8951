//! The effectuation's optional fields about the sale and the customer (seed 001): where it was
//! sold, the customer's CPF or CNPJ, and CEP. Carat documents them loosely (`cpf` `< 20 AN`,
//! `zip_code` `< 9 AN`); the service holds them to what they are in Brazil, so a storefront's
//! typo is a 422 naming the field instead of a refusal, or a wrong record, at Carat.

use std::fmt;

use super::format::{Charset, Format, FormatError};
use super::ids::carat_string;

carat_string!(
    /// `terminal_type`: `= 2 N`, `01` POS, `02` TU, `03` TAS, `04` Internet, `05` POS-Sitef.
    TerminalType,
    Format::exactly(2, Charset::Numeric),
    rule = |s: &str| match s {
        "01" | "02" | "03" | "04" | "05" => Ok(()),
        _ => Err(FormatError::Rule(
            "must be one of 01 (POS), 02 (TU), 03 (TAS), 04 (Internet), 05 (POS-Sitef)",
        )),
    }
);

carat_string!(
    /// `cpf`: 11 digits whose last two are the CPF's check digits (Carat: `< 20 AN`).
    Cpf,
    Format::exactly(11, Charset::Numeric),
    rule = |s: &str| check_digits_hold(s, 9).then_some(()).ok_or(FormatError::Rule(
        "must be a CPF: 11 digits whose last two are its check digits"
    ))
);

carat_string!(
    /// `cnpj`: 14 characters, 12 letters (upper case) or digits then 2 check digits. Since July
    /// 2026 the Receita Federal issues alphanumeric CNPJs; digits-only ones stay valid and are
    /// checked the same way (a character counts as its ASCII code minus 48).
    Cnpj,
    Format::exactly(14, Charset::Alphanumeric),
    rule = |s: &str| {
        let root_ok = s[..12].bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
        (root_ok && check_digits_hold(s, 12)).then_some(()).ok_or(FormatError::Rule(
            "must be a CNPJ: 12 upper-case letters or digits, then its 2 check digits",
        ))
    }
);

carat_string!(
    /// `zip_code`: a CEP, 8 digits without the dash (Carat: `< 9 AN`).
    ZipCode,
    Format::exactly(8, Charset::Numeric)
);

/// Whether the two characters after the first `body` are the mod-11 check digits of a CPF
/// (`body` = 9, weights 10..2 then 11..2) or a CNPJ (`body` = 12, weights 5..2,9..2 then
/// 6..2,9..2). Both: remainder below 2 gives 0, else 11 minus it. The format ran first.
fn check_digits_hold(s: &str, body: usize) -> bool {
    let values: Vec<u32> = s.bytes().map(|b| u32::from(b) - u32::from(b'0')).collect();
    let digit = |len: usize| {
        let sum: u32 = values[..len]
            .iter()
            .rev()
            .enumerate()
            .map(|(i, v)| {
                // CPF weights grow without bound (2..=11); CNPJ's wrap after 9.
                let weight = if body == 9 {
                    i as u32 + 2
                } else {
                    i as u32 % 8 + 2
                };
                v * weight
            })
            .sum();
        match sum % 11 {
            r if r < 2 => 0,
            r => 11 - r,
        }
    };
    let expected = [digit(body), digit(body + 1)];
    // The check digits themselves must be digits (a letter there never matches 0..=9 anyway).
    values[body] == expected[0] && values[body + 1] == expected[1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_types_are_the_five_carat_lists() {
        for ok in ["01", "02", "03", "04", "05"] {
            assert!(TerminalType::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["00", "06", "1", "001", "AB"] {
            assert!(TerminalType::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpfs_need_their_check_digits() {
        assert!(Cpf::parse("52998224725").is_ok());
        assert!(Cpf::parse("11144477735").is_ok());
        assert!(Cpf::parse("52998224724").is_err(), "second check digit off");
        assert!(Cpf::parse("52998224715").is_err(), "first check digit off");
        // Carat's own example value is not a CPF.
        assert!(Cpf::parse("8298374982374").is_err());
        assert!(Cpf::parse("529.982.247-25").is_err(), "digits only");
    }

    #[test]
    fn cnpjs_digits_only_or_alphanumeric_need_their_check_digits() {
        assert!(Cnpj::parse("11222333000181").is_ok());
        // The Receita Federal's example of the alphanumeric CNPJ: 12.ABC.345/01DE-35.
        assert!(Cnpj::parse("12ABC34501DE35").is_ok());
        assert!(Cnpj::parse("11222333000182").is_err());
        assert!(Cnpj::parse("12ABC34501DE36").is_err());
        assert!(Cnpj::parse("12abc34501de35").is_err(), "upper case only");
        assert!(
            Cnpj::parse("123121333000123").is_err(),
            "Carat's example has 15 digits"
        );
    }

    #[test]
    fn zip_codes_are_eight_digits() {
        assert!(ZipCode::parse("01310100").is_ok());
        assert!(ZipCode::parse("01310-100").is_err());
        assert!(ZipCode::parse("0131010").is_err());
    }
}
