//! The warehouse: the storage location under which managed tables live, laid out as
//! `<warehouse>/<org_id>/<catalog>/<schema>/<table>/`.

use lakeward_model::TableRef;
use url::Url;
use uuid::Uuid;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WarehouseError {
    #[error("warehouse location is not a valid URL: {0}")]
    InvalidUrl(String),
    #[error("unsupported warehouse scheme `{0}` (supported: file, s3, az, gs)")]
    UnsupportedScheme(String),
    #[error("an object-store warehouse names its bucket or container: `{0}://<bucket>/<prefix>`")]
    NoBucket(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warehouse {
    /// Always ends with `/`, so that joining appends instead of replacing the last segment.
    root: Url,
}

impl Warehouse {
    pub fn parse(location: &str) -> Result<Self, WarehouseError> {
        let root = Url::parse(location).map_err(|e| WarehouseError::InvalidUrl(e.to_string()))?;
        match root.scheme() {
            "file" => Ok(Self::at(root)),
            // Its store is configured by the standard environment variables (`AWS_*`,
            // `AZURE_STORAGE_*`, `GOOGLE_*`) and attached when the server starts.
            scheme @ ("s3" | "az" | "gs") => {
                if root.host_str().is_none_or(str::is_empty) {
                    return Err(WarehouseError::NoBucket(scheme.to_owned()));
                }
                Ok(Self::at(root))
            }
            scheme => Err(WarehouseError::UnsupportedScheme(scheme.to_owned())),
        }
    }

    fn at(mut root: Url) -> Self {
        if !root.path().ends_with('/') {
            let path = format!("{}/", root.path());
            root.set_path(&path);
        }
        Self { root }
    }

    pub fn root(&self) -> &Url {
        &self.root
    }

    /// Where a managed table lives. Built only from a UUID and validated identifiers,
    /// so no request string can steer the path.
    pub fn table_location(&self, org_id: Uuid, table: &TableRef) -> Url {
        let relative = format!("{org_id}/{}/{}/{}/", table.catalog, table.schema, table.table);
        self.root.join(&relative).expect("identifiers and UUIDs are valid URL path segments")
    }

    /// Another table of the same organisation as the table at `location`.
    pub fn sibling(location: &Url, table: &TableRef) -> Url {
        let relative = format!("../../../{}/{}/{}/", table.catalog, table.schema, table.table);
        location.join(&relative).expect("identifiers are valid URL path segments")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakeward_model::Ident;

    fn table() -> TableRef {
        TableRef {
            catalog: Ident::new("main").unwrap(),
            schema: Ident::new("crm").unwrap(),
            table: Ident::new("customers").unwrap(),
        }
    }

    #[test]
    fn tables_are_laid_out_under_the_organisation() {
        let wh = Warehouse::parse("file:///var/lib/lakeward/warehouse").unwrap();
        let org = Uuid::parse_str("0190c0de-0000-7000-8000-000000000001").unwrap();
        assert_eq!(
            wh.table_location(org, &table()).as_str(),
            "file:///var/lib/lakeward/warehouse/0190c0de-0000-7000-8000-000000000001/main/crm/customers/"
        );
        // The layout is the same on object stores.
        let s3 = Warehouse::parse("s3://bucket/prefix").unwrap();
        assert!(s3.table_location(org, &table()).as_str().starts_with("s3://bucket/prefix/0190c0de-"));
        let other = TableRef { table: Ident::new("countries").unwrap(), ..table() };
        let sibling = Warehouse::sibling(&s3.table_location(org, &table()), &other);
        assert_eq!(sibling, s3.table_location(org, &other), "a sibling stays in the organisation");
    }

    #[test]
    fn bad_locations_are_refused() {
        assert!(matches!(Warehouse::parse("not a url"), Err(WarehouseError::InvalidUrl(_))));
        assert_eq!(Warehouse::parse("http://x/y"), Err(WarehouseError::UnsupportedScheme("http".into())));
        assert_eq!(Warehouse::parse("s3:///lake"), Err(WarehouseError::NoBucket("s3".into())));
        assert_eq!(
            Warehouse::parse("abfss://c@a.dfs.core.windows.net/x"),
            Err(WarehouseError::UnsupportedScheme("abfss".into()))
        );
    }
}
