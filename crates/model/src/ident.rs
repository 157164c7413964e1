//! Identifiers for catalogs, schemas, tables and columns.
//!
//! Storage paths are built only from [`Ident`]s, so a raw request string can never
//! reach a path: `..`, `/`, `%2F` or a NUL byte simply do not validate.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Longest identifier we accept (the first character plus 127 more).
pub const MAX_IDENT_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentError {
    #[error("identifier must not be empty")]
    Empty,
    #[error("identifier is longer than {MAX_IDENT_LEN} characters")]
    TooLong,
    #[error("identifier must start with a letter or underscore and contain only letters, digits and underscores")]
    BadCharacter,
}

/// A validated name matching `[A-Za-z_][A-Za-z0-9_]{0,127}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Ident(String);

impl Ident {
    pub fn new(raw: &str) -> Result<Self, IdentError> {
        let mut chars = raw.chars();
        let first = chars.next().ok_or(IdentError::Empty)?;
        if raw.len() > MAX_IDENT_LEN {
            return Err(IdentError::TooLong);
        }
        let first_ok = first.is_ascii_alphabetic() || first == '_';
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if first_ok && rest_ok { Ok(Self(raw.to_owned())) } else { Err(IdentError::BadCharacter) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Ident {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Ident::new(&raw).map_err(serde::de::Error::custom)
    }
}

/// `catalog.schema.table`, each part validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TableRef {
    pub catalog: Ident,
    pub schema: Ident,
    pub table: Ident,
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.catalog, self.schema, self.table)
    }
}

impl TableRef {
    /// `catalog.schema.table` as [`Display`](fmt::Display) writes it; `None` unless it has
    /// exactly three valid parts.
    pub fn parse(raw: &str) -> Option<TableRef> {
        let mut parts = raw.split('.').map(Ident::new);
        let (Some(Ok(catalog)), Some(Ok(schema)), Some(Ok(table)), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some(TableRef { catalog, schema, table })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_references_parse_as_they_display() {
        let r = TableRef::parse("main.crm.customers").unwrap();
        assert_eq!(r.to_string(), "main.crm.customers");
        for bad in ["", "main", "main.crm", "main.crm.customers.x", "main..t", "main.crm.a b", "main.crm.9x"] {
            assert_eq!(TableRef::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn accepts_valid_identifiers() {
        for ok in ["a", "_", "Customers", "sales_2024", "_x9", &"a".repeat(128)] {
            assert_eq!(Ident::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_everything_that_could_reach_a_path() {
        assert_eq!(Ident::new(""), Err(IdentError::Empty));
        assert_eq!(Ident::new(&"a".repeat(129)), Err(IdentError::TooLong));
        for bad in ["9lives", "..", "a/b", "a.b", "a-b", "a b", "a%2Fb", "a\0", "ä", "a\u{200b}"] {
            assert_eq!(Ident::new(bad), Err(IdentError::BadCharacter), "{bad:?}");
        }
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<Ident>("\"ok_name\"").is_ok());
        assert!(serde_json::from_str::<Ident>("\"../etc\"").is_err());
    }
}
