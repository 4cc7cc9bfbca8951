//! Domain types read straight from their columns. A stored value that fails its format is a
//! decode error, not a silently wrong value.

use sqlx::postgres::{PgTypeInfo, PgValueRef};
use sqlx::{Decode, Postgres, Type};

use crate::domain::Nit;

impl Type<Postgres> for Nit {
    fn type_info() -> PgTypeInfo {
        <String as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <String as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for Nit {
    fn decode(value: PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let raw = <String as Decode<Postgres>>::decode(value)?;
        Ok(Nit::parse(raw)?)
    }
}
