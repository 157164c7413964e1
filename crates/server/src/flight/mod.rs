//! Arrow Flight SQL, a surface of its own port over the same principal, authorization and
//! engine operations as REST: statement queries and prepared statements run the SQL
//! sandbox of `POST /v1/sql` (`services::sql`), the metadata calls list what the caller's
//! organisation holds, bulk ingest takes the governed insert of `POST .../rows`. Tickets and statement handles are signed and bound to their
//! principal (`handles`), so no state is kept between calls.

mod auth;
mod frames;
mod handles;
mod metadata;
mod status;

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use arrow::datatypes::Schema;
use arrow::ipc::writer::IpcWriteOptions;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::flight_service_server::FlightServiceServer;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::FlightSqlService;
use arrow_flight::sql::server::PeekableFlightDataStream;
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult,
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetPrimaryKeys, CommandGetSqlInfo, CommandGetTableTypes,
    CommandGetTables, CommandGetXdbcTypeInfo, CommandPreparedStatementQuery, CommandStatementIngest,
    CommandStatementQuery, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, IpcMessage,
    SchemaAsIpc, Ticket,
};
use base64::Engine as _;
use futures::{Stream, TryStreamExt};
use lakeward_engine::{InputFormat, OutputFormat, SqlTable, WriteRequest, ops};
use lakeward_meta::access::{Action, Principal, Resource, authorize};
use prost::Message;
use tokio::net::TcpListener;
use tonic::{Request, Response, Status, Streaming};

use crate::flight::handles::Statement;
use crate::flight::status::status;
use crate::services;
use crate::state::{AppState, SharedState};
use crate::table_access::{self, TablePath};

/// What a ticket and a prepared statement's handle are signed for.
const TICKET: &str = "flight-ticket";
const HANDLE: &str = "flight-statement-handle";

/// The Arrow answers Flight sends: standard types (`Utf8`, not `Utf8View`), as every
/// Flight SQL driver reads them, and as the schemas announced say.
const ARROW: OutputFormat = OutputFormat::ArrowStream { view_types: false };

type DataStream = Pin<Box<dyn Stream<Item = Result<FlightData, Status>> + Send>>;

pub struct FlightSql {
    state: SharedState,
}

/// The TLS identity of the Flight port, read (and checked) at start-up.
pub fn tls(paths: &(std::path::PathBuf, std::path::PathBuf)) -> anyhow::Result<tonic::transport::ServerTlsConfig> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read the Flight TLS file {}: {e}", p.display()))
    };
    // Dependencies build rustls with both of its crypto providers, and then it needs one
    // chosen for the process (an error here: one was chosen already).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let identity = tonic::transport::Identity::from_pem(read(&paths.0)?, read(&paths.1)?);
    Ok(tonic::transport::ServerTlsConfig::new().identity(identity))
}

/// Serves Flight SQL on `listener` (over TLS with `tls`) until `shutdown` resolves.
pub async fn serve(
    state: SharedState,
    listener: TcpListener,
    tls: Option<tonic::transport::ServerTlsConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        server = server.tls_config(tls)?;
    }
    server
        .add_service(FlightServiceServer::new(FlightSql { state }))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// Binds the Flight SQL port, naming it when it cannot be had.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen for Flight SQL on {addr}: {e}"))
}

fn sql_info() -> &'static SqlInfoData {
    static INFO: OnceLock<SqlInfoData> = OnceLock::new();
    INFO.get_or_init(|| {
        let mut info = SqlInfoDataBuilder::new();
        info.append(SqlInfo::FlightSqlServerName, "Lakeward");
        info.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        info.append(SqlInfo::FlightSqlServerArrowVersion, "59");
        info.append(SqlInfo::FlightSqlServerReadOnly, true);
        info.append(SqlInfo::FlightSqlServerSql, true);
        info.append(SqlInfo::FlightSqlServerSubstrait, false);
        info.append(SqlInfo::FlightSqlServerTransaction, 0i32);
        info.append(SqlInfo::FlightSqlServerCancel, false);
        info.append(SqlInfo::SqlDdlCatalog, false);
        info.append(SqlInfo::SqlDdlSchema, false);
        info.append(SqlInfo::SqlDdlTable, false);
        info.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
        info.append(SqlInfo::SqlIdentifierCase, 3i32); // case sensitive
        info.append(SqlInfo::SqlQuotedIdentifierCase, 3i32);
        info.build().expect("static SQL info")
    })
}

fn encode_schema(schema: &Schema) -> Result<bytes::Bytes, Status> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default())
        .try_into()
        .map_err(|e: arrow::error::ArrowError| Status::internal(e.to_string()))?;
    Ok(bytes)
}

fn batches<E: Into<arrow_flight::error::FlightError> + Send + 'static>(
    schema: arrow::datatypes::SchemaRef,
    batch: Result<arrow::record_batch::RecordBatch, E>,
) -> DataStream {
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures::stream::once(async move { batch.map_err(Into::into) }))
        .map_err(Status::from);
    Box::pin(stream)
}

/// The one authorization function, on the caller's organisation's tables.
fn allowed(principal: &Principal, action: Action) -> Result<(), Status> {
    authorize(principal, action, &Resource::Table { org_id: principal.org_id }).map_err(|d| status(d.into()))
}

/// A FlightInfo whose one endpoint's ticket is `command` itself: metadata answers are
/// computed for the principal fetching them, so their tickets need no binding.
fn metadata_info(
    command: impl ProstMessageExt,
    schema: &Schema,
    descriptor: FlightDescriptor,
) -> Result<FlightInfo, Status> {
    let ticket = Ticket { ticket: command.as_any().encode_to_vec().into() };
    Ok(FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(e.to_string()))?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(descriptor))
}

/// The one batch of an Arrow IPC stream.
fn decode_ipc(bytes: &[u8]) -> Result<arrow::record_batch::RecordBatch, Status> {
    let reader =
        arrow::ipc::reader::StreamReader::try_new(bytes, None).map_err(|e| Status::invalid_argument(e.to_string()))?;
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(|e| Status::invalid_argument(e.to_string()))?;
    let schema = batches.first().map(|b| b.schema()).ok_or_else(|| Status::invalid_argument("no parameter values"))?;
    arrow::compute::concat_batches(&schema, &batches).map_err(|e| Status::invalid_argument(e.to_string()))
}

/// Parameter values as a handle carries them.
fn decode_params(encoded: &str) -> Result<arrow::record_batch::RecordBatch, Status> {
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|e| Status::internal(e.to_string()))?;
    decode_ipc(&bytes)
}

/// The batches a client put (rows to ingest, parameter values) as one Arrow IPC stream,
/// within the upload limit.
async fn arrow_stream_of(state: &AppState, data: PeekableFlightDataStream) -> Result<bytes::Bytes, Status> {
    let limit = state.config.limits.max_upload_bytes;
    let mut batches = arrow_flight::decode::FlightRecordBatchStream::new_from_flight_data(data.map_err(Into::into));
    let mut writer: Option<arrow::ipc::writer::StreamWriter<Vec<u8>>> = None;
    while let Some(batch) = batches.try_next().await.map_err(|e| Status::invalid_argument(e.to_string()))? {
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(
                arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &batch.schema())
                    .map_err(|e| Status::internal(e.to_string()))?,
            ),
        };
        w.write(&batch).map_err(|e| Status::invalid_argument(e.to_string()))?;
        if w.get_ref().len() > limit {
            return Err(status(crate::upload::too_large()));
        }
    }
    let writer = writer.ok_or_else(|| Status::invalid_argument("no rows were sent"))?;
    Ok(writer.into_inner().map_err(|e| Status::internal(e.to_string()))?.into())
}

impl FlightSql {
    async fn principal<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        auth::principal(&self.state, request).await
    }

    fn state(&self) -> &AppState {
        &self.state
    }

    /// The principal, allowed to query, and the tables a session for `query` holds.
    async fn query_tables(&self, principal: &Principal, query: &str) -> Result<Vec<SqlTable>, Status> {
        allowed(principal, Action::TablesQuery)?;
        services::sql::tables_for(self.state(), principal, query).await.map_err(status)
    }

    /// The shape of `query`; with bound `params`, the values it will run with are checked too.
    async fn query_shape(
        &self,
        principal: &Principal,
        query: &str,
        params: ops::sql::Params,
    ) -> Result<ops::sql::SqlShape, Status> {
        let tables = self.query_tables(principal, query).await?;
        let op = ops::sql::SqlSchema { tables, query: query.to_owned(), view_types: false, params };
        self.state.engine.run(op).await.map_err(|e| status(e.into()))
    }

    /// The FlightInfo of `statement`: its schema, and a ticket to run it bound to `principal`.
    async fn statement_info(
        &self,
        principal: &Principal,
        statement: Statement,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let params = statement.params.as_deref().map(decode_params).transpose()?;
        let schema = self.query_shape(principal, &statement.query, ops::sql::Params::Bound(params)).await?.schema;
        let handle = handles::seal(self.state(), TICKET, principal, statement)?;
        let ticket = TicketStatementQuery { statement_handle: handle };
        let ticket = Ticket { ticket: ticket.as_any().encode_to_vec().into() };
        let info = FlightInfo::new()
            .try_with_schema(&schema)
            .map_err(|e| Status::internal(e.to_string()))?
            .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
            .with_descriptor(descriptor)
            .with_total_records(-1)
            .with_total_bytes(-1);
        Ok(Response::new(info))
    }

    async fn catalog_tables(&self, principal: &Principal) -> Result<Vec<lakeward_meta::store::TableEntry>, Status> {
        allowed(principal, Action::TablesRead)?;
        self.state.meta.all_tables(principal.org_id).await.map_err(|e| status(e.into()))
    }
}

#[tonic::async_trait]
impl FlightSqlService for FlightSql {
    type FlightService = FlightSql;

    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>, Status> {
        auth::handshake(self.state(), &request).await
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let principal = self.principal(&request).await?;
        let statement = Statement { query: query.query, params: None };
        self.statement_info(&principal, statement, request.into_inner()).await
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DataStream>, Status> {
        let principal = self.principal(&request).await?;
        let Statement { query, params } = handles::open(self.state(), TICKET, &principal, &ticket.statement_handle)?;
        let params = params.map(|p| decode_params(&p)).transpose()?;
        let tables = self.query_tables(&principal, &query).await?;
        let output = self
            .state
            .engine
            .run(ops::sql::Sql { tables, query, format: ARROW, params })
            .await
            .map_err(|e| status(e.into()))?;
        Ok(Response::new(Box::pin(frames::flight_data(output.body))))
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let principal = self.principal(&request).await?;
        let shape = self.query_shape(&principal, &query.query, ops::sql::Params::NotYetBound).await?;
        let handle = handles::seal(self.state(), HANDLE, &principal, Statement { query: query.query, params: None })?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle,
            dataset_schema: encode_schema(&shape.schema)?,
            parameter_schema: encode_schema(&shape.parameters)?,
        })
    }

    /// Binds parameter values: the answer is a new handle that carries them (nothing is
    /// kept on the server), which the client executes.
    async fn do_put_prepared_statement_query(
        &self,
        command: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let principal = self.principal(&request).await?;
        let statement: Statement = handles::open(self.state(), HANDLE, &principal, &command.prepared_statement_handle)?;
        let params = arrow_stream_of(self.state(), request.into_inner()).await?;
        // Checked now, so that a wrong binding is refused where it is made.
        let batch = decode_ipc(&params)?;
        if batch.num_rows() != 1 {
            return Err(Status::invalid_argument("bind one row of parameter values"));
        }
        let params = Some(base64::engine::general_purpose::STANDARD.encode(&params));
        let handle = handles::seal(self.state(), HANDLE, &principal, Statement { params, ..statement })?;
        Ok(DoPutPreparedStatementResult { prepared_statement_handle: Some(handle) })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        command: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let principal = self.principal(&request).await?;
        let statement = handles::open(self.state(), HANDLE, &principal, &command.prepared_statement_handle)?;
        self.statement_info(&principal, statement, request.into_inner()).await
    }

    async fn do_action_close_prepared_statement(
        &self,
        command: ActionClosePreparedStatementRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<(), Status> {
        // Nothing is kept for a handle; closing one checks that it is the caller's.
        let principal = self.principal(&request).await?;
        handles::open::<Statement>(self.state(), HANDLE, &principal, &command.prepared_statement_handle).map(|_| ())
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.principal(&request).await?;
        let schema = query.clone().into_builder(sql_info()).schema();
        Ok(Response::new(metadata_info(query, &schema, request.into_inner())?))
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DataStream>, Status> {
        self.principal(&request).await?;
        let builder = query.into_builder(sql_info());
        Ok(Response::new(batches(builder.schema(), builder.build())))
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.principal(&request).await?;
        let schema = query.into_builder().schema();
        Ok(Response::new(metadata_info(query, &schema, request.into_inner())?))
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<DataStream>, Status> {
        let principal = self.principal(&request).await?;
        allowed(&principal, Action::TablesRead)?;
        let catalogs = self.state.meta.list_catalogs(principal.org_id).await.map_err(|e| status(e.into()))?;
        let mut builder = query.into_builder();
        for catalog in catalogs {
            builder.append(catalog.name);
        }
        Ok(Response::new(batches(builder.schema(), builder.build())))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.principal(&request).await?;
        let schema = query.clone().into_builder().schema();
        Ok(Response::new(metadata_info(query, &schema, request.into_inner())?))
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DataStream>, Status> {
        let principal = self.principal(&request).await?;
        allowed(&principal, Action::TablesRead)?;
        let meta = &self.state.meta;
        let mut builder = query.into_builder();
        for catalog in meta.list_catalogs(principal.org_id).await.map_err(|e| status(e.into()))? {
            let ident = lakeward_model::Ident::new(&catalog.name).map_err(|e| Status::internal(e.to_string()))?;
            for schema in meta.list_schemas(principal.org_id, &ident).await.map_err(|e| status(e.into()))? {
                builder.append(&catalog.name, schema.name);
            }
        }
        Ok(Response::new(batches(builder.schema(), builder.build())))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.principal(&request).await?;
        let schema = query.clone().into_builder().schema();
        Ok(Response::new(metadata_info(query, &schema, request.into_inner())?))
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DataStream>, Status> {
        let principal = self.principal(&request).await?;
        let include_schema = query.include_schema;
        let mut builder = query.into_builder();
        for entry in self.catalog_tables(&principal).await? {
            let t = &entry.table;
            let schema = if include_schema {
                let location = url::Url::parse(&entry.location).map_err(|e| Status::internal(e.to_string()))?;
                let table = SqlTable {
                    catalog: t.catalog.clone(),
                    schema: t.schema.clone(),
                    name: t.table.to_string(),
                    location,
                    at: lakeward_engine::TimeTravel::Latest,
                };
                let query = format!("SELECT * FROM \"{}\".\"{}\".\"{}\"", t.catalog, t.schema, t.table);
                let op = ops::sql::SqlSchema {
                    tables: vec![table],
                    query,
                    view_types: false,
                    params: ops::sql::Params::NotYetBound,
                };
                self.state.engine.run(op).await.map_err(|e| status(e.into()))?.schema
            } else {
                Arc::new(Schema::empty())
            };
            builder
                .append(t.catalog.as_str(), t.schema.as_str(), t.table.as_str(), "TABLE", &schema)
                .map_err(|e| Status::internal(e.to_string()))?;
        }
        Ok(Response::new(batches(builder.schema(), builder.build())))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.principal(&request).await?;
        let schema = query.into_builder().schema();
        Ok(Response::new(metadata_info(query, &schema, request.into_inner())?))
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<DataStream>, Status> {
        self.principal(&request).await?;
        let mut builder = query.into_builder();
        builder.append("TABLE");
        Ok(Response::new(batches(builder.schema(), builder.build())))
    }

    /// Bulk ingest (ADBC's `adbc_ingest` with `mode="append"`): the batches as one Arrow
    /// stream through the governed insert of `POST .../rows` (types, NOT NULL, domains,
    /// constraints, primary keys, one commit), audited as it is. Lakeward does not create
    /// or replace tables this way: those are definition changes with their own endpoint.
    async fn do_put_statement_ingest(
        &self,
        command: CommandStatementIngest,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        use arrow_flight::sql::{TableExistsOption, TableNotExistOption};
        let principal = self.principal(&request).await?;
        let meta = auth::request_meta(&request);
        let options = command.table_definition_options.unwrap_or_default();
        if options.if_exists != TableExistsOption::Append as i32
            || options.if_not_exist == TableNotExistOption::Create as i32
        {
            return Err(Status::invalid_argument(
                "ingest appends to an existing table (ADBC: mode=\"append\"); create tables with POST /v1/tables/{catalog}/{schema}/{table}",
            ));
        }
        let (Some(catalog), Some(schema)) = (command.catalog, command.schema) else {
            return Err(Status::invalid_argument("name the table's catalog and schema as well as the table"));
        };
        let path = TablePath::new(catalog, schema, command.table);
        let table = table_access::resolve(self.state(), &principal, &path, Action::RowsInsert).await.map_err(status)?;
        let body = arrow_stream_of(self.state(), request.into_inner()).await?;
        let write = WriteRequest {
            actor: table_access::actor(self.state(), &principal).await.map_err(status)?,
            idempotency_key: None,
            return_rows: false,
        };
        let how = services::rows::InsertWith {
            format: InputFormat::ArrowStream,
            merge_duplicates: false,
            length: Some(body.len() as u64),
        };
        let (outcome, action) =
            services::rows::insert(self.state(), &table.location, how, body.into(), write).await.map_err(status)?;
        services::rows::audit_write(self.state(), &meta, &principal, &table.entry.table, action, &outcome)
            .await
            .map_err(status)?;
        Ok(outcome.rows as i64)
    }

    async fn get_flight_info_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.principal(&request).await?;
        Ok(Response::new(metadata_info(query, &metadata::primary_keys_schema(), request.into_inner())?))
    }

    /// The key of one table, from its definition (`tables:read`); a table of another
    /// organisation is not found, as everywhere.
    async fn do_get_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DataStream>, Status> {
        let principal = self.principal(&request).await?;
        let (Some(catalog), Some(schema)) = (query.catalog, query.db_schema) else {
            return Err(Status::invalid_argument("name the table's catalog and schema as well as the table"));
        };
        let path = TablePath::new(catalog, schema, query.table);
        let table = table_access::resolve(self.state(), &principal, &path, Action::TablesRead).await.map_err(status)?;
        let op = ops::table::Describe { location: table.location, at: lakeward_engine::TimeTravel::Latest };
        let described = self.state.engine.run(op).await.map_err(|e| status(e.into()))?;
        let t = &table.entry.table;
        let batch =
            metadata::primary_keys(t.catalog.as_str(), t.schema.as_str(), t.table.as_str(), &described.primary_key);
        Ok(Response::new(batches(metadata::primary_keys_schema(), batch)))
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.principal(&request).await?;
        let schema = query.into_builder(metadata::xdbc_types()).schema();
        Ok(Response::new(metadata_info(query, &schema, request.into_inner())?))
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DataStream>, Status> {
        self.principal(&request).await?;
        let builder = query.into_builder(metadata::xdbc_types());
        Ok(Response::new(batches(builder.schema(), builder.build())))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}
