//! Domain types read from their columns. Each row is read as PostgreSQL's own types (the
//! orphan rule keeps sqlx's traits off the domain's types), then parsed here: a stored value
//! that fails its format is a decode error naming its column, never a panic nor a silently
//! wrong value.

use sqlx::error::BoxDynError;

use carat_domain::MerchantUsn;

/// `value`, read from `column`, as the domain type `T`.
pub(crate) fn parse<T, S>(column: &str, value: S) -> Result<T, sqlx::Error>
where
    T: TryFrom<S>,
    T::Error: Into<BoxDynError>,
{
    T::try_from(value).map_err(|e| decode_error(column, e))
}

/// A nullable `column`'s `value` as the domain type `T`.
pub(crate) fn parse_opt<T, S>(column: &str, value: Option<S>) -> Result<Option<T>, sqlx::Error>
where
    T: TryFrom<S>,
    T::Error: Into<BoxDynError>,
{
    value.map(|v| parse(column, v)).transpose()
}

/// A `merchant_usn` column (bigint, bounded by its CHECK).
pub(crate) fn merchant_usn(column: &str, value: i64) -> Result<MerchantUsn, sqlx::Error> {
    let value = u64::try_from(value).map_err(|e| decode_error(column, e))?;
    MerchantUsn::new(value).map_err(|e| decode_error(column, e))
}

pub(crate) fn decode_error(column: &str, e: impl Into<BoxDynError>) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: e.into(),
    }
}
