//! Creating, opening and describing tables. A table is a Delta table; everything about
//! it (columns, comments, primary key, description) lives in its Delta log.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use chrono::{DateTime, Utc};
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::{TryIntoArrow, TryIntoKernel};
use deltalake::{DeltaTable, DeltaTableBuilder, TableProperty};
use lakeward_model::Ident;
use serde::Serialize;
use url::Url;

use crate::commit::Actor;
use crate::error::{EngineError, EngineResult};
use crate::storage::Stores;
use crate::types::{COMMENT_KEY, ColumnType};

/// Table property naming the primary-key columns, comma-separated.
pub const PRIMARY_KEY_PROPERTY: &str = "lakeward.primaryKey";
/// Checkpoint every this many commits so that opening a table reads few log files.
pub(crate) const CHECKPOINT_INTERVAL: &str = "10";
/// Data files of about this size: an update or delete of one row rewrites one file
/// (copy-on-write), so smaller files make single-row changes cheaper; scans barely notice.
/// 3 MiB holds about 100k rows of a ten-column table with its unique columns written
/// plain (see `write::encoding`).
pub(crate) const TARGET_FILE_SIZE: &str = "3145728";

#[derive(Debug, Clone)]
pub struct ColumnSpec {
    pub name: Ident,
    pub column_type: ColumnType,
    pub nullable: bool,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TableSpec {
    pub columns: Vec<ColumnSpec>,
    pub primary_key: Vec<Ident>,
    pub partition_by: Vec<Ident>,
    pub description: Option<String>,
}

/// Which state of a table to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimeTravel {
    #[default]
    Latest,
    Version(u64),
    AsOf(DateTime<Utc>),
}

impl TableSpec {
    /// Checks the spec as a whole; each fault names the field at fault.
    pub fn validate(&self) -> EngineResult<()> {
        if self.columns.is_empty() {
            return Err(EngineError::invalid("columns", "a table needs at least one column"));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.columns.iter().enumerate() {
            if !seen.insert(c.name.as_str().to_ascii_lowercase()) {
                return Err(EngineError::invalid(
                    format!("columns[{i}].name"),
                    format!("duplicate column `{}`", c.name),
                ));
            }
        }
        let column = |name: &Ident| self.columns.iter().find(|c| c.name == *name);
        for (i, key) in self.primary_key.iter().enumerate() {
            let c = column(key)
                .ok_or_else(|| EngineError::invalid(format!("primary_key[{i}]"), format!("unknown column `{key}`")))?;
            if c.nullable {
                return Err(EngineError::invalid(
                    format!("primary_key[{i}]"),
                    format!("primary-key column `{key}` must not be nullable"),
                ));
            }
            if matches!(
                c.column_type,
                ColumnType::Json | ColumnType::Binary | ColumnType::Float32 | ColumnType::Float64
            ) {
                return Err(EngineError::invalid(
                    format!("primary_key[{i}]"),
                    format!("a {} column cannot be a primary key", c.column_type),
                ));
            }
        }
        for (i, part) in self.partition_by.iter().enumerate() {
            column(part).ok_or_else(|| {
                EngineError::invalid(format!("partition_by[{i}]"), format!("unknown column `{part}`"))
            })?;
        }
        if self.partition_by.len() == self.columns.len() {
            return Err(EngineError::invalid("partition_by", "at least one column must not be a partition column"));
        }
        Ok(())
    }

    pub fn arrow_schema(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .map(|c| {
                    let mut metadata = c.column_type.metadata();
                    if let Some(comment) = &c.comment {
                        metadata.insert(COMMENT_KEY.to_owned(), comment.clone());
                    }
                    Field::new(c.name.as_str(), c.column_type.arrow(), c.nullable).with_metadata(metadata)
                })
                .collect::<Vec<_>>(),
        )
    }
}

/// A builder for the table at `location`, on the attached store that serves it (local
/// folders on delta-rs' own file store).
pub(crate) fn builder(stores: &Stores, location: &Url) -> EngineResult<DeltaTableBuilder> {
    let builder = DeltaTableBuilder::from_url(location.clone())?;
    Ok(match stores.for_location(location)? {
        Some((store, root)) => builder.with_storage_backend(store, root),
        None => builder,
    })
}

/// Whether the storage answers, for certain, that there is no Delta table at `location`
/// (a failing storage is not taken for an absent table).
pub(crate) async fn surely_absent(stores: &Stores, location: &Url) -> bool {
    let Ok(builder) = builder(stores, location) else { return false };
    let Ok(table) = builder.build() else { return false };
    matches!(table.log_store().is_delta_table_location().await, Ok(false))
}

/// Opens a table at the state asked for.
pub(crate) async fn open(stores: &Stores, location: &Url, at: TimeTravel) -> EngineResult<DeltaTable> {
    let builder = builder(stores, location)?;
    let builder = match at {
        TimeTravel::Latest => builder,
        TimeTravel::Version(v) => builder.with_version(v),
        TimeTravel::AsOf(t) => builder.with_timestamp(t),
    };
    match builder.load().await {
        Ok(table) => {
            if let TimeTravel::AsOf(t) = at
                && first_commit_after(&table, t)
            {
                return Err(EngineError::invalid("as_of", "the table did not exist at that time"));
            }
            Ok(table)
        }
        Err(deltalake::DeltaTableError::InvalidVersion(v)) => {
            Err(EngineError::invalid("version", format!("version {v} does not exist")))
        }
        Err(e) => {
            let text = e.to_string();
            if matches!(at, TimeTravel::Version(_)) && (text.contains("version") || text.contains("Version")) {
                Err(EngineError::invalid("version", "that version does not exist"))
            } else {
                Err(e.into())
            }
        }
    }
}

/// Time travel to before the first commit loads the first commit; catch that.
fn first_commit_after(table: &DeltaTable, t: DateTime<Utc>) -> bool {
    let Ok(state) = table.snapshot() else { return false };
    state.version() == 0 && state.version_timestamp(0).is_some_and(|ms| ms > t.timestamp_millis())
}

/// Creates a table at `location` (version 0).
pub(crate) async fn create(
    stores: &Stores,
    location: &Url,
    name: &str,
    spec: &TableSpec,
    actor: &Actor,
) -> EngineResult<DeltaTable> {
    spec.validate()?;
    let schema: StructType =
        (&spec.arrow_schema()).try_into_kernel().map_err(|e| EngineError::internal(e.to_string()))?;
    let mut config: HashMap<String, Option<String>> = HashMap::new();
    if !spec.primary_key.is_empty() {
        config.insert(
            PRIMARY_KEY_PROPERTY.to_owned(),
            Some(spec.primary_key.iter().map(Ident::as_str).collect::<Vec<_>>().join(",")),
        );
    }
    let table = builder(stores, &ensure_local_folder(location)?)?.build()?;
    let created = table
        .create()
        .with_columns(schema.fields().cloned())
        .with_partition_columns(spec.partition_by.iter().map(|p| p.as_str().to_owned()))
        .with_table_name(name)
        .with_comment(spec.description.clone().unwrap_or_default())
        .with_configuration_property(TableProperty::CheckpointInterval, Some(CHECKPOINT_INTERVAL))
        .with_configuration_property(TableProperty::TargetFileSize, Some(TARGET_FILE_SIZE))
        .with_configuration(config)
        .with_raise_if_key_not_exists(false)
        .with_commit_properties(actor.commit_properties(&uuid::Uuid::new_v4().to_string(), None))
        .await;
    match created {
        Ok(table) => Ok(table),
        Err(e) if e.to_string().contains("already exists") => {
            Err(EngineError::Conflict("a table already exists at this location".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// `location`, its folder created first when it is local (object stores need none).
pub(crate) fn ensure_local_folder(location: &Url) -> EngineResult<Url> {
    Ok(if location.scheme() == "file" { deltalake::ensure_table_uri(location.as_str())? } else { location.clone() })
}

/// The table's Arrow schema (with column metadata) at its loaded state.
pub fn arrow_schema(table: &DeltaTable) -> EngineResult<SchemaRef> {
    let schema: Schema = table
        .snapshot()?
        .schema()
        .as_ref()
        .try_into_arrow()
        .map_err(|e: arrow::error::ArrowError| EngineError::internal(e.to_string()))?;
    Ok(Arc::new(schema))
}

pub fn primary_key(table: &DeltaTable) -> EngineResult<Vec<String>> {
    let state = table.snapshot()?;
    Ok(state
        .metadata()
        .configuration()
        .get(PRIMARY_KEY_PROPERTY)
        .map(|keys| keys.split(',').map(str::to_owned).collect())
        .unwrap_or_default())
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: String,
    pub nullable: bool,
    pub comment: Option<String>,
    pub domain: Option<crate::rules::Domain>,
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnStatistics {
    pub column: String,
    pub null_count: Option<u64>,
    /// Distinct values; computed only when asked for, since it reads the column.
    pub distinct_count: Option<u64>,
    pub min: Option<serde_json::Value>,
    pub max: Option<serde_json::Value>,
}

/// A table's description, from the Delta log and file statistics (no data scan).
#[derive(Debug, Clone, Serialize)]
pub struct TableMetadata {
    pub version: u64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub num_rows: u64,
    pub num_files: u64,
    pub file_size: u64,
    /// Files smaller than compaction's threshold (1 MiB).
    pub small_files: u64,
    pub columns: Vec<ColumnInfo>,
    pub primary_key: Vec<String>,
    pub partition_columns: Vec<String>,
    pub constraints: Vec<(String, String)>,
    pub properties: HashMap<String, String>,
    pub column_statistics: Vec<ColumnStatistics>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_modified: Option<DateTime<Utc>>,
}

pub fn describe(table: &DeltaTable) -> EngineResult<TableMetadata> {
    let state = table.snapshot()?;
    let schema = arrow_schema(table)?;
    let metadata = state.metadata();
    let mut num_rows = 0u64;
    let mut file_size = 0u64;
    let mut num_files = 0u64;
    let mut small_files = 0u64;
    let mut nulls: HashMap<String, u64> = HashMap::new();
    let mut mins: HashMap<String, serde_json::Value> = HashMap::new();
    let mut maxs: HashMap<String, serde_json::Value> = HashMap::new();
    let mut stats_complete = true;
    for file in state.log_data().iter() {
        num_files += 1;
        file_size += file.size().max(0) as u64;
        small_files += u64::from((file.size().max(0) as u64) < crate::write::compact::SMALL_FILE_BYTES);
        num_rows += file.num_records().unwrap_or(0) as u64;
        let Some(stats) = file.stats().and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok()) else {
            stats_complete = false;
            continue;
        };
        if let Some(obj) = stats["nullCount"].as_object() {
            for (k, v) in obj {
                *nulls.entry(k.clone()).or_default() += v.as_u64().unwrap_or(0);
            }
        }
        merge_extreme(&mut mins, &stats["minValues"], std::cmp::Ordering::Less);
        merge_extreme(&mut maxs, &stats["maxValues"], std::cmp::Ordering::Greater);
    }
    let columns = schema
        .fields()
        .iter()
        .map(|f| ColumnInfo {
            name: f.name().clone(),
            column_type: ColumnType::of_field(f).map(|t| t.to_string()).unwrap_or_else(|| f.data_type().to_string()),
            nullable: f.is_nullable(),
            comment: f.metadata().get(COMMENT_KEY).cloned(),
            domain: crate::rules::domain::of_field(f).ok().flatten(),
            metadata: f.metadata().clone(),
        })
        .collect();
    let column_statistics = schema
        .fields()
        .iter()
        .map(|f| ColumnStatistics {
            column: f.name().clone(),
            null_count: stats_complete.then(|| nulls.get(f.name()).copied().unwrap_or(0)),
            distinct_count: None,
            min: mins.get(f.name()).cloned(),
            max: maxs.get(f.name()).cloned(),
        })
        .collect();
    let constraints = crate::rules::check::constraints_of(table)?;
    let version = state.version();
    Ok(TableMetadata {
        version,
        name: metadata.name().map(str::to_owned),
        description: metadata.description().filter(|d| !d.is_empty()).map(str::to_owned),
        num_rows,
        num_files,
        file_size,
        small_files,
        columns,
        primary_key: primary_key(table)?,
        partition_columns: metadata.partition_columns().to_vec(),
        constraints,
        properties: metadata.configuration().clone(),
        column_statistics,
        created_at: metadata.created_time().and_then(DateTime::from_timestamp_millis),
        last_modified: state.version_timestamp(version).and_then(DateTime::from_timestamp_millis),
    })
}

fn merge_extreme(into: &mut HashMap<String, serde_json::Value>, values: &serde_json::Value, keep: std::cmp::Ordering) {
    let Some(obj) = values.as_object() else { return };
    for (k, v) in obj {
        let replace = match into.get(k) {
            None => true,
            Some(current) => compare_json(v, current) == Some(keep),
        };
        if replace {
            into.insert(k.clone(), v.clone());
        }
    }
}

fn compare_json(a: &serde_json::Value, b: &serde_json::Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (serde_json::Value::Number(x), serde_json::Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (serde_json::Value::String(x), serde_json::Value::String(y)) => Some(x.cmp(y)),
        (serde_json::Value::Bool(x), serde_json::Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// For tests: a new table `t (id int64 not null)` in `dir`, its location, and the actor
/// that created it.
#[cfg(test)]
pub(crate) async fn id_table(dir: &std::path::Path) -> (Url, Actor, DeltaTable) {
    let location = Url::from_directory_path(dir.join("t")).unwrap();
    let actor = Actor { user_id: "u1".into(), user_name: "ada@example.com".into() };
    let spec = TableSpec {
        columns: vec![ColumnSpec {
            name: Ident::new("id").unwrap(),
            column_type: ColumnType::Int64,
            nullable: false,
            comment: None,
        }],
        ..Default::default()
    };
    let created = create(&Stores::default(), &location, "t", &spec, &actor).await.unwrap();
    (location, actor, created)
}
