//! Dates as each backend stores them for Better Auth.
//!
//! PostgreSQL: `timestamptz`. SQLite: ISO-8601 text with milliseconds and `Z`
//! (`2026-08-23T10:00:00.000Z`), which is what Better Auth's Kysely adapter writes; one
//! fixed-width format also makes SQL comparisons on the text column order as the times do.
//! Reading SQLite is lenient about what other writers left: epoch milliseconds as an integer,
//! or `YYYY-MM-DD HH:MM:SS[.fff]` (SQLite's own `datetime()` form, taken as UTC).

use chrono::{DateTime, SubsecRound, TimeZone, Utc};
use serde::{Serialize, Serializer};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef, Postgres};
use sqlx::sqlite::{Sqlite, SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Type, TypeInfo as _, ValueRef as _};

/// A UTC time with millisecond precision, encoded the Better Auth way on each backend and
/// serialised as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DbTime(pub DateTime<Utc>);

impl DbTime {
    /// The ISO form used in JSON and in SQLite: `YYYY-MM-DDTHH:MM:SS.mmmZ`, as JavaScript's
    /// `Date#toJSON` writes it.
    pub fn to_iso(&self) -> String {
        tessera_clock::iso_millis(&self.0)
    }
}

impl From<DateTime<Utc>> for DbTime {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t.trunc_subsecs(3))
    }
}

impl Serialize for DbTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_iso())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DbTime {
        DbTime::from(Utc.with_ymd_and_hms(2026, 8, 23, 10, 0, 0).unwrap())
    }

    #[test]
    fn a_time_is_kept_to_the_millisecond_and_written_as_javascript_does() {
        let t = DbTime::from(at().0 + chrono::Duration::nanoseconds(1_234_567));
        assert_eq!(t.to_iso(), "2026-08-23T10:00:00.001Z");
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#""2026-08-23T10:00:00.001Z""#
        );
    }

    async fn read_back(sql: &str) -> DbTime {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    }

    #[tokio::test]
    async fn sqlite_reads_what_it_wrote() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        let back: DbTime = sqlx::query_scalar("SELECT $1")
            .bind(at())
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(back, at());
    }

    #[tokio::test]
    async fn sqlite_reads_epoch_milliseconds_and_its_own_datetime_form() {
        assert_eq!(read_back("SELECT 1787479200000").await, at());
        assert_eq!(read_back("SELECT '2026-08-23 10:00:00'").await, at());
    }
}
