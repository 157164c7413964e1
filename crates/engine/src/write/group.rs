//! Group commit for inserts. Concurrent inserts into one table queue up; whoever holds
//! the table's write lock drains the queue and commits every acceptable request in one
//! Delta commit per acting user. Each request is still judged on its own: a bad body, a
//! duplicate key or a replayed idempotency key fails (or is answered) alone, and the
//! others commit.

use std::collections::HashSet;

use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use deltalake::kernel::Transaction;
use deltalake::protocol::SaveMode;
use tokio::sync::oneshot;
use url::Url;

use super::input::{self, InputFormat};
use super::key_index::{key_display, key_texts};
use super::rows::RowErrors;
use super::{MAX_REDOS, WriteOutcome, WriteRequest, already_written, encoding, landed_despite, new_commit_id};
use crate::commit::idempotency_app_id;
use crate::error::{EngineError, EngineResult};
use crate::rules::Rules;
use crate::table::{self, TimeTravel};
use crate::{Inner as Engine, output};

pub(crate) struct PendingInsert {
    pub format: InputFormat,
    pub body: Bytes,
    pub request: WriteRequest,
    pub reply: oneshot::Sender<EngineResult<WriteOutcome>>,
    /// How often it has been redone because another writer committed first.
    pub redone: u32,
}

/// A request that passed its own checks, waiting for the table check and the commit.
struct Accepted {
    reply: oneshot::Sender<EngineResult<WriteOutcome>>,
    request: WriteRequest,
    format: InputFormat,
    body: Bytes,
    redone: u32,
    batches: Vec<RecordBatch>,
    rows: u64,
    /// Primary-key texts of the rows (when they are checked against the key index).
    texts: Vec<String>,
}

impl Accepted {
    /// Back to the queue, to be checked again against the table's new state.
    fn redo(self) -> PendingInsert {
        PendingInsert {
            format: self.format,
            body: self.body,
            request: self.request,
            reply: self.reply,
            redone: self.redone + 1,
        }
    }
}

/// Processes every queued insert of one table. Called with the table's write lock held.
/// Answers every request, except those whose commit lost the race against another
/// writer's: those are returned, to be redone on the table's new state.
pub(crate) async fn run(engine: &Engine, location: &Url, pending: Vec<PendingInsert>) -> Vec<PendingInsert> {
    let prepared = async {
        let delta = engine.open(location, TimeTravel::Latest).await?;
        let schema = table::arrow_schema(&delta)?;
        let rules = Rules::compile(engine, location, &delta).await?;
        Ok::<_, EngineError>((delta, schema, rules))
    };
    let (delta, schema, rules) = match prepared.await {
        Ok(prepared) => prepared,
        Err(e) => {
            for p in pending {
                let _ = p.reply.send(Err(e.clone()));
            }
            return Vec::new();
        }
    };
    let keys = table::primary_key(&delta).unwrap_or_default();
    // Keys are checked against the table's in-process key index when it has one; a request
    // alone in its group on a table too large to index uses the set-based query instead.
    let indexed = !keys.is_empty() && engine.key_indexes.ensure(engine, location, &delta, &keys).await.unwrap_or(false);
    let alone = pending.len() == 1 && !indexed;
    let mut accepted: Vec<Accepted> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut app_ids: HashSet<String> = HashSet::new();
    for p in pending {
        let checked = async {
            if already_written(&delta, p.request.idempotency_key.as_deref()).await? {
                return Ok(None);
            }
            // The same key twice in one group: the second is a retry of the first.
            if let Some(key) = &p.request.idempotency_key
                && !app_ids.insert(idempotency_app_id(key))
            {
                return Ok(None);
            }
            let batches = input::parse(p.format, &p.body, &schema, &rules)?;
            let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
            if alone {
                if !keys.is_empty() && rows > 0 {
                    super::check_keys_unique(engine, &delta, &batches, &keys, false).await?;
                }
                return Ok(Some((batches, Vec::new(), rows)));
            }
            let texts = if keys.is_empty() { Vec::new() } else { key_texts(&batches, &keys)? };
            let mut mine = HashSet::new();
            let mut errors = RowErrors::default();
            for text in &texts {
                if !mine.insert(text.clone()) {
                    errors.push(
                        0,
                        Some(&keys.join(",")),
                        format!("primary key {} appears more than once in the input", key_display(text, &keys)),
                    );
                }
            }
            if !errors.is_empty() {
                return Err(EngineError::Rows(errors));
            }
            if let Some(clash) = texts.iter().find(|t| seen.contains(*t)) {
                return Err(EngineError::Conflict(format!(
                    "duplicate primary key: {} already exist(s)",
                    key_display(clash, &keys)
                )));
            }
            Ok(Some((batches, texts, rows)))
        }
        .await;
        match checked {
            Ok(None) => {
                let _ = p.reply.send(Ok(WriteOutcome { replayed: true, ..Default::default() }));
            }
            Ok(Some((batches, texts, rows))) => {
                seen.extend(texts.iter().cloned());
                let PendingInsert { format, body, request, reply, redone } = p;
                accepted.push(Accepted { reply, request, format, body, redone, batches, rows, texts });
            }
            Err(e) => {
                let _ = p.reply.send(Err(e));
            }
        }
    }

    // Keys already in the table.
    if indexed {
        let mut still = Vec::new();
        for a in accepted {
            match engine.key_indexes.clash(location, &a.texts) {
                Some(clash) => {
                    let message = format!("duplicate primary key: {} already exist(s)", key_display(clash, &keys));
                    let _ = a.reply.send(Err(EngineError::Conflict(message)));
                }
                None => still.push(a),
            }
        }
        accepted = still;
    } else if !alone && !keys.is_empty() && !accepted.is_empty() {
        let all: Vec<RecordBatch> = accepted.iter().flat_map(|a| a.batches.iter().cloned()).collect();
        if let Err(EngineError::Conflict(_)) | Err(EngineError::Rows(_)) =
            super::check_keys_unique(engine, &delta, &all, &keys, false).await
        {
            // Some request clashes with the table: find which, one by one.
            let mut still = Vec::new();
            for a in accepted {
                match super::check_keys_unique(engine, &delta, &a.batches, &keys, false).await {
                    Ok(()) => still.push(a),
                    Err(e) => {
                        let _ = a.reply.send(Err(e));
                    }
                }
            }
            accepted = still;
        }
    }

    // One commit per acting user, so that each commit names who made it.
    let mut delta = delta;
    let mut redo = Vec::new();
    while !accepted.is_empty() {
        let user = accepted[0].request.actor.user_id.clone();
        let (group, rest): (Vec<_>, Vec<_>) = accepted.into_iter().partition(|a| a.request.actor.user_id == user);
        accepted = rest;
        let commit_id = new_commit_id();
        let transactions: Vec<Transaction> = group
            .iter()
            .filter_map(|a| a.request.idempotency_key.as_deref())
            .map(|k| Transaction::new(idempotency_app_id(k), 1))
            .collect();
        let props =
            group[0].request.actor.commit_properties(&commit_id, None).with_application_transactions(transactions);
        let batches: Vec<RecordBatch> =
            group.iter().flat_map(|a| a.batches.iter().cloned()).filter(|b| b.num_rows() > 0).collect();
        let read_version = delta.version().unwrap_or(0);
        let version = if batches.is_empty() {
            Ok(None)
        } else {
            // A large insert is judged like an import; single rows keep the defaults.
            let largest = batches.iter().max_by_key(|b| b.num_rows()).expect("not empty");
            let properties = encoding::judged_by(largest);
            let write = delta
                .clone()
                .write(batches)
                .with_save_mode(SaveMode::Append)
                .with_writer_properties(properties)
                .with_session_state(engine.write_session())
                .with_commit_properties(props);
            match write.await {
                Ok(t) => {
                    engine.remember(location, &t);
                    let v = t.version();
                    if let Some(v) = v {
                        let texts = group.iter().flat_map(|a| a.texts.iter());
                        engine.key_indexes.committed(location, read_version, v, texts);
                    }
                    delta = t;
                    Ok(v)
                }
                Err(e) => {
                    engine.key_indexes.forget(location);
                    let landed = landed_despite(engine, location, read_version, &commit_id, e).await.map(Some);
                    // The next user's commit starts from whatever the log now says.
                    if let Ok(t) = engine.open(location, TimeTravel::Latest).await {
                        delta = t;
                    }
                    landed
                }
            }
        };
        if matches!(version, Err(EngineError::Concurrent)) {
            // Another writer committed first: every request still waiting was checked
            // against a state that is no longer the latest.
            for a in group.into_iter().chain(std::mem::take(&mut accepted)) {
                if a.redone < MAX_REDOS {
                    redo.push(a.redo());
                } else {
                    let _ = a.reply.send(Err(EngineError::Concurrent));
                }
            }
            return redo;
        }
        for a in group {
            let outcome = version.clone().and_then(|version| {
                let returned = if a.request.return_rows { Some(output::json_rows(&a.batches)?) } else { None };
                Ok(WriteOutcome {
                    version: if a.rows > 0 { version } else { None },
                    rows: a.rows,
                    returned,
                    replayed: false,
                })
            });
            let _ = a.reply.send(outcome);
        }
    }
    super::compact::if_needed(engine, location, delta).await;
    redo
}
