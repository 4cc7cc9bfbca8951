//! Money and dates as the console shows them: amounts from integer cents in the page's
//! language, instants in America/Sao_Paulo.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};

use super::i18n::Lang;

/// America/Sao_Paulo: UTC-03:00 all year. Brazil abolished daylight saving time in 2019
/// (Decree 9.772/2019), so a fixed offset is exact for every instant this service stores (it
/// was written after 2019) and no time zone database is needed.
pub fn sao_paulo() -> FixedOffset {
    FixedOffset::west_opt(3 * 3600).expect("UTC-03:00 is a valid offset")
}

/// `R$ 1.234,56` (pt-BR) or `R$ 1,234.56` (en), from integer cents.
pub fn money(lang: Lang, cents: i64) -> String {
    let amount = amount(lang, cents);
    match amount.strip_prefix('-') {
        Some(positive) => format!("-R$ {positive}"),
        None => format!("R$ {amount}"),
    }
}

/// The number alone, as a spreadsheet reads it in that language: `1.234,56` or `1,234.56`.
pub fn amount(lang: Lang, cents: i64) -> String {
    let (thousands, decimal) = match lang {
        Lang::PtBr => ('.', ','),
        Lang::En => (',', '.'),
    };
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    let units = (cents / 100).to_string();
    let mut grouped = String::with_capacity(units.len() + units.len() / 3);
    for (i, digit) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push(thousands);
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}{decimal}{:02}", cents % 100)
}

/// `dd/mm/yyyy HH:MM` in America/Sao_Paulo (both languages: the operators are in Brazil).
pub fn date_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&sao_paulo())
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

/// `dd/mm/yyyy HH:MM:SS` in America/Sao_Paulo, for a history where seconds matter.
pub fn date_time_seconds(at: DateTime<Utc>) -> String {
    at.with_timezone(&sao_paulo())
        .format("%d/%m/%Y %H:%M:%S")
        .to_string()
}

/// The hour of an instant in America/Sao_Paulo (`14h`), for the chart's axis.
pub fn hour(at: DateTime<Utc>) -> String {
    at.with_timezone(&sao_paulo()).format("%Hh").to_string()
}

/// The first instant of `day` in America/Sao_Paulo.
pub fn start_of_day(day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    sao_paulo()
        .from_local_datetime(&midnight)
        .single()
        .expect("a fixed offset has exactly one instant per local time")
        .with_timezone(&Utc)
}

/// Today's date in America/Sao_Paulo.
pub fn today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&sao_paulo()).date_naive()
}

/// A Brazilian phone number as people write it: `(11) 98765-4321`.
pub fn phone(ddd: &str, number: &str) -> String {
    let split = number.len().saturating_sub(4);
    match (number.get(..split), number.get(split..)) {
        (Some(head), Some(tail)) if !head.is_empty() => format!("({ddd}) {head}-{tail}"),
        _ => format!("({ddd}) {number}"),
    }
}

/// A duration in milliseconds as people read it: `850 ms`, `2,4 s` / `2.4 s`, `3 min`.
pub fn millis(lang: Lang, ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        let tenths = format!("{:.1}", ms as f64 / 1000.0);
        let tenths = match lang {
            Lang::PtBr => tenths.replace('.', ","),
            Lang::En => tenths,
        };
        format!("{tenths} s")
    } else {
        format!("{} min", ms / 60_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_in_both_languages() {
        assert_eq!(money(Lang::PtBr, 123_456), "R$ 1.234,56");
        assert_eq!(money(Lang::En, 123_456), "R$ 1,234.56");
        assert_eq!(money(Lang::PtBr, 0), "R$ 0,00");
        assert_eq!(money(Lang::PtBr, 5), "R$ 0,05");
        assert_eq!(money(Lang::PtBr, 1000), "R$ 10,00");
        assert_eq!(money(Lang::PtBr, 100_000), "R$ 1.000,00");
        assert_eq!(money(Lang::En, 12_345_678_900), "R$ 123,456,789.00");
        assert_eq!(money(Lang::PtBr, 99_999), "R$ 999,99");
        assert_eq!(money(Lang::PtBr, -150), "-R$ 1,50");
        assert_eq!(amount(Lang::PtBr, 123_456), "1.234,56");
        assert_eq!(amount(Lang::En, 123_456), "1,234.56");
        assert_eq!(amount(Lang::En, i64::MIN), "-92,233,720,368,547,758.08");
    }

    #[test]
    fn dates_are_sao_paulo_time() {
        let at = DateTime::parse_from_rfc3339("2026-12-06T02:30:59Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(date_time(at), "05/12/2026 23:30");
        assert_eq!(date_time_seconds(at), "05/12/2026 23:30:59");
        assert_eq!(hour(at), "23h");
        assert_eq!(today(at), NaiveDate::from_ymd_opt(2026, 12, 5).unwrap());
        // A summer date: no daylight saving since 2019.
        let summer = DateTime::parse_from_rfc3339("2026-01-15T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(date_time(summer), "15/01/2026 09:00");
    }

    #[test]
    fn a_day_starts_at_three_utc() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        assert_eq!(start_of_day(day).to_rfc3339(), "2026-12-06T03:00:00+00:00");
    }

    #[test]
    fn phones_read_as_written_in_brazil() {
        assert_eq!(phone("11", "987654321"), "(11) 98765-4321");
        assert_eq!(phone("21", "87654321"), "(21) 8765-4321");
        assert_eq!(phone("21", "123"), "(21) 123");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(millis(Lang::PtBr, 850), "850 ms");
        assert_eq!(millis(Lang::PtBr, 2400), "2,4 s");
        assert_eq!(millis(Lang::En, 2400), "2.4 s");
        assert_eq!(millis(Lang::En, 180_000), "3 min");
    }
}
