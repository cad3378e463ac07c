//! Dates as each backend stores them for Better Auth.
//!
//! PostgreSQL: `timestamptz`. SQLite: ISO-8601 text with milliseconds and `Z`
//! (`2026-08-23T10:00:00.000Z`), which is what Better Auth's Kysely adapter writes; keeping one
//! fixed-width format also makes SQL comparisons on the text column order correctly.

use chrono::{DateTime, SubsecRound, TimeZone, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef, Postgres};
use sqlx::sqlite::{Sqlite, SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Type, TypeInfo as _, ValueRef as _};

use crate::clock::iso_millis;

/// A UTC time with millisecond precision, encoded the Better Auth way on each backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DbTime(pub DateTime<Utc>);

impl DbTime {
    /// The JSON form: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn to_iso(&self) -> String {
        iso_millis(&self.0)
    }
}

impl From<DateTime<Utc>> for DbTime {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t.trunc_subsecs(3))
    }
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(_ty: &SqliteTypeInfo) -> bool {
        // Columns are declared `date`; values are text (or, from other writers, epoch ms).
        true
    }
}

impl<'q> Encode<'q, Sqlite> for DbTime {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <String as Encode<'q, Sqlite>>::encode(self.to_iso(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.type_info().name() == "INTEGER" {
            let millis = <i64 as Decode<'r, Sqlite>>::decode(value)?;
            return Utc
                .timestamp_millis_opt(millis)
                .single()
                .map(Self)
                .ok_or_else(|| "timestamp out of range".into());
        }
        let text = <&str as Decode<'r, Sqlite>>::decode(value)?;
        let parsed = DateTime::parse_from_rfc3339(text).or_else(|_| {
            DateTime::parse_from_str(&format!("{text}+00:00"), "%Y-%m-%d %H:%M:%S%.f%:z")
        })?;
        Ok(Self(parsed.with_timezone(&Utc)))
    }
}

impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for DbTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<'_, Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <DateTime<Utc> as Decode<'r, Postgres>>::decode(value).map(Self)
    }
}
