//! The console's clock: days and hours in America/Sao_Paulo. Pure.

use chrono::{DateTime, Duration, DurationRound, FixedOffset, NaiveTime, Utc};

/// America/Sao_Paulo: UTC-03:00 with no daylight saving since 2019 (Decree 9.772/2019), so a
/// fixed offset is exact for every date the service has seen; no time-zone database is needed.
pub const SAO_PAULO: FixedOffset = match FixedOffset::west_opt(3 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC-03:00 is a valid offset"),
};

/// The start of `now`'s day in São Paulo, as an instant.
pub fn sao_paulo_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    let local_day = now.with_timezone(&SAO_PAULO).date_naive();
    local_day
        .and_time(NaiveTime::MIN)
        .and_local_timezone(SAO_PAULO)
        .single()
        .expect("a fixed offset maps every local time to one instant")
        .with_timezone(&Utc)
}

/// The starts of the `count` whole hours that end with the one holding `now`, oldest first.
/// São Paulo's offset is whole hours, so its hours start when UTC's do.
pub fn hour_buckets_from(now: DateTime<Utc>, count: u32) -> Vec<DateTime<Utc>> {
    let hour = Duration::hours(1);
    let current = now
        .duration_trunc(hour)
        .expect("an hour divides any instant");
    (0..count)
        .rev()
        .map(|back| current - hour * i32::try_from(back).unwrap_or(i32::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_day_starts_at_midnight_in_sao_paulo() {
        // 02:30 UTC is still the day before in São Paulo (23:30).
        assert_eq!(
            sao_paulo_midnight(at("2026-12-06T02:30:00Z")),
            at("2026-12-05T03:00:00Z")
        );
        assert_eq!(
            sao_paulo_midnight(at("2026-12-06T03:00:00Z")),
            at("2026-12-06T03:00:00Z")
        );
        assert_eq!(
            sao_paulo_midnight(at("2026-12-06T23:59:59Z")),
            at("2026-12-06T03:00:00Z")
        );
    }

    #[test]
    fn twenty_four_hours_end_with_the_current_one() {
        let hours = hour_buckets_from(at("2026-12-06T14:37:12Z"), 24);
        assert_eq!(hours.len(), 24);
        assert_eq!(hours[23], at("2026-12-06T14:00:00Z"));
        assert_eq!(hours[0], at("2026-12-05T15:00:00Z"));
        assert!(hours.windows(2).all(|w| w[1] - w[0] == Duration::hours(1)));
    }
}
