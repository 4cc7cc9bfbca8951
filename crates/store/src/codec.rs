//! Domain types read straight from their columns. A stored value that fails its format is a
//! decode error, not a silently wrong value. The orphan rule keeps sqlx's traits off the
//! domain's types, so each is read through a column type of this crate.

use sqlx::postgres::{PgTypeInfo, PgValueRef};
use sqlx::{Decode, Postgres, Type, ValueRef};

use carat_domain::{FormatError, Nit};

/// A nullable `nit` column.
pub struct NitColumn(Option<String>);

impl Type<Postgres> for NitColumn {
    fn type_info() -> PgTypeInfo {
        <String as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <String as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for NitColumn {
    fn decode(value: PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        if value.is_null() {
            return Ok(Self(None));
        }
        Ok(Self(Some(<String as Decode<Postgres>>::decode(value)?)))
    }
}

impl TryFrom<NitColumn> for Option<Nit> {
    type Error = FormatError;

    fn try_from(column: NitColumn) -> Result<Self, FormatError> {
        column.0.map(Nit::parse).transpose()
    }
}
