//! Rust enums stored in `TEXT … CHECK` columns: each is written as its name and read back
//! through `FromStr`, so a stored value that does not parse is a query error, never a value
//! silently dropped or defaulted.

use std::io::Write;

use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;

use crate::audit::{Action, Status};
use crate::authz::{EnvKind, EnvRole, OrgRole};
use crate::domain::states::{InvitationStatus, OrgStatus};

macro_rules! text_column {
    ($($t:ty),*) => {$(
        impl ToSql<Text, Pg> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.as_str().as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $t {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                let name = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
                name.parse::<$t>().map_err(|e| {
                    format!("{} column: {e}", stringify!($t)).into()
                })
            }
        }
    )*};
}

text_column!(
    Action,
    OrgRole,
    EnvRole,
    EnvKind,
    OrgStatus,
    InvitationStatus,
    Status
);

/// A stored name read from a column diesel returns as text (a `string_agg`, a JSON value),
/// parsed or refused as a deserialization error.
pub fn parse_stored<T>(name: &str) -> diesel::QueryResult<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    name.parse::<T>().map_err(|e| {
        diesel::result::Error::DeserializationError(format!("stored value: {e}").into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_name_reads_back_as_its_value() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>().ok(), Some(*a));
        }
        for k in EnvKind::ALL {
            assert_eq!(k.as_str().parse::<EnvKind>().ok(), Some(k));
        }
        for r in EnvRole::ALL {
            assert_eq!(r.as_str().parse::<EnvRole>().ok(), Some(r));
        }
        assert!("user.did_something".parse::<Action>().is_err());
    }
}
