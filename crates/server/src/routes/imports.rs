//! File uploads: CSV schema inference (`POST /v1/tables/infer`) and imports
//! (`POST /v1/tables/{catalog}/{schema}/{table}/import`), both multipart. The upload is
//! streamed to a temporary file (never held in memory), so a file may be as large as the
//! upload limit. An import runs as a job (`services::imports`, on [`crate::jobs`]; followed and
//! cancelled through `/v1/jobs/{id}`): it creates the table when it does not exist (from
//! the given or the inferred schema, optionally with the proposed domains), then commits
//! every row or none; a job that fails or is cancelled after creating its table removes
//! the table again.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use lakeward_engine::ops;
use lakeward_engine::{ColumnSpec, CsvOptions, ImportFormat, InferredColumn, TableSpec};
use lakeward_meta::access::{Action, Resource, authorize};
use lakeward_model::{Ident, TableRef};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult, FieldNames};
use crate::jobs::view::JobResponse;
use crate::services::{self, imports::ImportTarget};
use crate::state::{AppState, SharedState};
use crate::table_access;
use crate::table_access::TablePath;
use crate::table_definition::{CreateTableRequest, table_spec};
use crate::upload::multipart_error;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(infer)).routes(routes!(import))
}

/// An upload on disk (deleted when dropped) and the form's other fields.
struct Upload {
    file: tempfile::TempPath,
    file_name: Option<String>,
    fields: HashMap<String, String>,
}

/// Streams the `file` part to a temporary file; keeps the small text parts.
async fn spool(state: &AppState, mut form: Multipart, allowed: &[&str]) -> ApiResult<Upload> {
    let mut file = None;
    let mut file_name = None;
    let mut fields = HashMap::new();
    while let Some(part) = form.next_field().await.map_err(multipart_error)? {
        let name = part.name().unwrap_or_default().to_owned();
        if name == "file" {
            if file.is_some() {
                return Err(ApiError::invalid_field("file", "give one file"));
            }
            file_name = part.file_name().map(str::to_owned);
            file = Some(crate::upload::spool(state, part, multipart_error).await?);
        } else if allowed.contains(&name.as_str()) {
            let text = part.text().await.map_err(multipart_error)?;
            if text.len() > 64 * 1024 {
                return Err(ApiError::invalid_field(name, "must be at most 64 KiB"));
            }
            fields.insert(name, text);
        } else {
            return Err(ApiError::invalid_field(
                name.clone(),
                format!("unknown field `{name}`; expected `file`, {}", allowed.join(", ")),
            ));
        }
    }
    let file = file.ok_or_else(|| ApiError::invalid_field("file", "the file part is missing"))?;
    Ok(Upload { file, file_name, fields })
}

fn flag(fields: &HashMap<String, String>, name: &str, default: bool) -> ApiResult<bool> {
    match fields.get(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(_) => Err(ApiError::invalid_field(name, "must be true or false")),
    }
}

fn csv_options(fields: &HashMap<String, String>) -> ApiResult<CsvOptions> {
    let delimiter = match fields.get("delimiter").map(String::as_str) {
        None | Some(",") => b',',
        Some("\t" | "\\t" | "tab") => b'\t',
        Some(d) if d.len() == 1 && d.is_ascii() && !matches!(d, "\"" | "\n" | "\r") => d.as_bytes()[0],
        Some(_) => {
            return Err(ApiError::invalid_field("delimiter", "must be one ASCII character (or `\\t` for tab)"));
        }
    };
    Ok(CsvOptions { has_header: flag(fields, "hasHeader", true)?, delimiter })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InferredField {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: String,
    pub nullable: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InferredSchema {
    pub fields: Vec<InferredField>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InferSchemaResponse {
    pub schema: InferredSchema,
    /// String columns with few distinct values, proposed as fixed domains, with those
    /// values.
    pub fields_with_domains: BTreeMap<String, Vec<String>>,
    /// Data rows (the header not counted).
    pub length: u64,
}

/// Infers a CSV file's schema (`tables:import`). Multipart: `file`, `hasHeader`
/// (default true), `delimiter` (default `,`; `\t` for tab). One pass over the file.
#[utoipa::path(post, path = "/v1/tables/infer", tag = "imports", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", content = Object,
        description = "`file` (the CSV), `hasHeader`, `delimiter`"),
    responses((status = 200, body = InferSchemaResponse)))]
pub async fn infer(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    form: Multipart,
) -> ApiResult<([(&'static str, String); 1], axum::Json<InferSchemaResponse>)> {
    authorize(&principal, Action::TablesImport, &Resource::Table { org_id: principal.org_id })?;
    let upload = spool(&state, form, &["hasHeader", "delimiter"]).await?;
    let options = csv_options(&upload.fields)?;
    let started = std::time::Instant::now();
    let inferred = state
        .engine
        .run(ops::import::InferCsv { path: upload.file.to_path_buf(), options })
        .await
        .map_err(|e| ApiError::engine(e, FieldNames::IMPORT))?;
    // The pass itself, without the upload (Server-Timing, in milliseconds).
    let timing = [("server-timing", format!("infer;dur={:.1}", started.elapsed().as_secs_f64() * 1000.0))];
    Ok((
        timing,
        axum::Json(InferSchemaResponse {
            schema: InferredSchema {
                fields: inferred
                    .columns
                    .into_iter()
                    .map(|c| InferredField {
                        name: c.name,
                        column_type: c.column_type.to_string(),
                        nullable: c.nullable,
                    })
                    .collect(),
            },
            fields_with_domains: inferred.domains,
            length: inferred.length,
        }),
    ))
}

fn format_of(upload: &Upload) -> ApiResult<ImportFormat> {
    let name = upload.file_name.as_deref().unwrap_or_default().to_ascii_lowercase();
    let named = match upload.fields.get("format").map(|f| f.trim().to_ascii_lowercase()) {
        Some(f) => f,
        None if name.ends_with(".parquet") => "parquet".into(),
        None if name.ends_with(".arrows") => "arrow".into(),
        None => "csv".into(),
    };
    match named.as_str() {
        "parquet" => Ok(ImportFormat::Parquet),
        "arrow" => Ok(ImportFormat::ArrowStream),
        "csv" => Ok(ImportFormat::Csv(csv_options(&upload.fields)?)),
        _ => Err(ApiError::invalid_field("format", "must be csv, parquet or arrow")),
    }
}

/// The table to create: the given schema, or the file's own columns.
async fn spec_for(
    state: &AppState,
    upload: &Upload,
    format: ImportFormat,
) -> ApiResult<(TableSpec, BTreeMap<String, Vec<String>>)> {
    if let Some(raw) = upload.fields.get("schema") {
        let body: CreateTableRequest = serde_json::from_str(raw)
            .map_err(|e| ApiError::invalid_field("schema", format!("not a table definition: {e}")))?;
        return Ok((table_spec(&body)?, BTreeMap::new()));
    }
    let (columns, domains): (Vec<InferredColumn>, _) = match format {
        ImportFormat::Csv(options) => {
            let inferred = state
                .engine
                .run(ops::import::InferCsv { path: upload.file.to_path_buf(), options })
                .await
                .map_err(|e| ApiError::engine(e, FieldNames::IMPORT))?;
            (inferred.columns, inferred.domains)
        }
        ImportFormat::Parquet | ImportFormat::ArrowStream => (
            state
                .engine
                .run(ops::import::FileColumns { path: upload.file.to_path_buf(), format })
                .await
                .map_err(|e| ApiError::engine(e, FieldNames::IMPORT))?,
            BTreeMap::new(),
        ),
    };
    let columns = columns
        .into_iter()
        .map(|c| {
            let name = Ident::new(&c.name).map_err(|e| {
                ApiError::invalid_field(
                    "file",
                    format!("column `{}` is not a valid column name ({e}); give a schema", c.name),
                )
            })?;
            Ok(ColumnSpec { name, column_type: c.column_type, nullable: true, comment: None })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let primary_key = match upload.fields.get("primaryKey") {
        Some(keys) => keys
            .split(',')
            .map(|k| Ident::new(k.trim()).map_err(|e| ApiError::invalid_field("primaryKey", e.to_string())))
            .collect::<ApiResult<Vec<_>>>()?,
        None => Vec::new(),
    };
    let mut spec = TableSpec { columns, primary_key, ..Default::default() };
    // Primary-key columns are NOT NULL.
    for c in &mut spec.columns {
        c.nullable = !spec.primary_key.contains(&c.name);
    }
    spec.validate()?;
    Ok((spec, domains))
}

/// Imports a CSV, Parquet or Arrow IPC stream file into a table, as a job (`tables:import`;
/// creating the table also needs `tables:create`, applying domains `domains:write`).
/// Multipart: `file`, `format` (`csv`/`parquet`/`arrow`, else from the file name), `hasHeader`, `delimiter`, and for a
/// new table `schema` (a table definition as JSON; inferred when absent), `primaryKey`
/// (comma-separated, with an inferred schema), `applyDomains` (set the proposed domains).
#[utoipa::path(post, path = "/v1/tables/{catalog}/{schema}/{table}/import", tag = "imports", security(("bearer" = [])), params(TablePath),
    request_body(content_type = "multipart/form-data", content = Object,
        description = "`file`, `format`, `hasHeader`, `delimiter`, `schema`, `primaryKey`, `applyDomains`"),
    responses((status = 202, body = JobResponse)))]
pub async fn import(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
    form: Multipart,
) -> ApiResult<(StatusCode, axum::Json<JobResponse>)> {
    let org = Resource::Table { org_id: principal.org_id };
    let (catalog, schema) = table_access::schema_ref(&path.catalog, &path.schema)?;
    let reference = TableRef { catalog, schema, table: table_access::new_ident("table", &path.table)? };
    // By role, or by an insert granted on the table (or its schema or catalog).
    table_access::authorize_on_table(&state, &principal, Action::TablesImport, &reference).await?;
    let upload =
        spool(&state, form, &["format", "hasHeader", "delimiter", "schema", "primaryKey", "applyDomains"]).await?;
    let format = format_of(&upload)?;
    let existing = state.meta.get_table(principal.org_id, &reference).await?;
    let target = match existing {
        Some(entry) => {
            if ["schema", "primaryKey", "applyDomains"].iter().any(|f| upload.fields.contains_key(*f)) {
                return Err(ApiError::conflict(format!(
                    "table `{reference}` exists: schema, primaryKey and applyDomains only apply to a new table"
                )));
            }
            ImportTarget::Existing(entry)
        }
        None => {
            authorize(&principal, Action::TablesCreate, &org)?;
            let apply_domains = flag(&upload.fields, "applyDomains", false)?;
            if apply_domains {
                authorize(&principal, Action::DomainsWrite, &org)?;
            }
            let (spec, domains) = spec_for(&state, &upload, format).await?;
            ImportTarget::New { spec, domains: if apply_domains { domains } else { BTreeMap::new() } }
        }
    };
    let accepted = services::imports::start(&state, request, principal, reference, target, upload.file, format).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(accepted.into())))
}
