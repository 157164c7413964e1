//! An engine, tables, and rows read back.

use std::time::Duration;

use futures::TryStreamExt as _;
use lakeward_engine::ops::rows::{Insert, ReadRows};
use lakeward_engine::ops::table::CreateTable;
use lakeward_engine::{
    Actor, ColumnSpec, ColumnType, Engine, EngineLimits, InputFormat, OutputFormat, TableSpec, TimeTravel,
    WriteOutcome, WriteRequest,
};
use lakeward_model::Ident;
use lakeward_model::query::{OrderBy, RowQuery};
use serde_json::Value;
use url::Url;

pub fn engine() -> Engine {
    Engine::new(EngineLimits { query_timeout: Duration::from_secs(60), memory_limit_bytes: 1 << 30 }).unwrap()
}

pub fn actor(user: &str) -> Actor {
    Actor { user_id: user.into(), user_name: format!("{user}@example.com") }
}

pub fn request(key: Option<&str>) -> WriteRequest {
    WriteRequest { actor: actor("u1"), idempotency_key: key.map(str::to_owned), return_rows: false }
}

/// A table `t (id int64 primary key, name string)` in `dir`.
pub async fn keyed_table(engine: &Engine, dir: &std::path::Path) -> Url {
    let location = Url::from_directory_path(dir.join("t")).unwrap();
    let column = |name: &str, column_type, nullable| ColumnSpec {
        name: Ident::new(name).unwrap(),
        column_type,
        nullable,
        comment: None,
    };
    let spec = TableSpec {
        columns: vec![column("id", ColumnType::Int64, false), column("name", ColumnType::String, true)],
        primary_key: vec![Ident::new("id").unwrap()],
        ..Default::default()
    };
    let op = CreateTable { location: location.clone(), name: "t".into(), spec, actor: actor("u1") };
    engine.run(op).await.unwrap();
    location
}

pub fn json_rows(ids: impl IntoIterator<Item = i64>) -> bytes::Bytes {
    let rows: Vec<Value> =
        ids.into_iter().map(|id| serde_json::json!({ "id": id, "name": format!("n{id}") })).collect();
    serde_json::to_vec(&rows).unwrap().into()
}

pub async fn insert(engine: &Engine, location: &Url, ids: impl IntoIterator<Item = i64>) -> WriteOutcome {
    let op =
        Insert { location: location.clone(), format: InputFormat::Json, body: json_rows(ids), request: request(None) };
    engine.run(op).await.unwrap()
}

/// Every id in the table at `at`, in order.
pub async fn ids(engine: &Engine, location: &Url, at: TimeTravel) -> Vec<i64> {
    let query = RowQuery {
        order: vec![OrderBy { column: "id".into(), descending: false, nulls_first: None }],
        ..Default::default()
    };
    let op = ReadRows { location: location.clone(), at, query, format: OutputFormat::Json, count: false };
    let page = engine.run(op).await.unwrap();
    let chunks: Vec<bytes::Bytes> = page.body.try_collect().await.unwrap();
    let rows: Vec<Value> = serde_json::from_slice(&chunks.concat()).unwrap();
    rows.iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

/// The table as another Delta writer sees it.
pub async fn delta(location: &Url) -> deltalake::DeltaTable {
    deltalake::open_table(location.clone()).await.unwrap()
}

/// Another Delta writer (delta-rs) appends rows `(id, name)`; answers the table after it.
pub async fn other_writer_appends(location: &Url, rows: &[(i64, &str)]) -> deltalake::DeltaTable {
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]));
    let ids = Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
    let names = StringArray::from(rows.iter().map(|r| Some(r.1)).collect::<Vec<_>>());
    let batch =
        arrow::record_batch::RecordBatch::try_new(schema, vec![std::sync::Arc::new(ids), std::sync::Arc::new(names)])
            .unwrap();
    delta(location).await.write(vec![batch]).await.unwrap()
}
