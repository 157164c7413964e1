//! Group commit for inserts. Concurrent inserts into one table queue up; whoever holds
//! the table's write lock drains the queue and commits every acceptable request in one
//! Delta commit per acting user. Each request is still judged on its own: a bad body, a
//! duplicate key or a replayed idempotency key fails (or is answered) alone, and the
//! others commit.

use std::collections::HashSet;

use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use deltalake::protocol::SaveMode;
use tokio::sync::oneshot;
use url::Url;

use super::input::{self, InputFormat};
use super::key_index::{KeyRows, KeySet, key_display, key_rows};
use super::{WriteOutcome, WriteRequest, encoding};
use crate::commit::{Commit, Landed, MAX_REDOS, replayed};
use crate::error::{EngineError, EngineResult};
use crate::output;
use crate::row_errors::RowErrors;
use crate::rules::Rules;
use crate::state::EngineState;
use crate::table::{self, TimeTravel};

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
    /// Primary keys of the rows (when they are checked against the key index).
    texts: KeyRows,
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

/// What the checks made of one request.
enum Checked {
    /// Its idempotency key was already committed: the original outcome.
    Replayed(WriteOutcome),
    /// Its idempotency key is an earlier request's in this group.
    Twin,
    /// To be committed: its batches, keys and rows.
    Fresh(Vec<RecordBatch>, KeyRows, u64),
}

/// Processes every queued insert of one table. Called with the table's write lock held.
/// Answers every request, except those whose commit lost the race against another
/// writer's: those are returned, to be redone on the table's new state.
pub(crate) async fn run(engine: &EngineState, location: &Url, pending: Vec<PendingInsert>) -> Vec<PendingInsert> {
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
    // The keys of the requests accepted so far, when another may follow.
    let more_than_one = pending.len() > 1;
    let mut seen: KeySet<Box<[u8]>> = KeySet::default();
    let mut keys_seen: HashSet<String> = HashSet::new();
    let mut twins = Vec::new();
    for p in pending {
        let checked = async {
            if let Some(outcome) = replayed(&delta, p.request.idempotency_key.as_deref()).await? {
                return Ok(Checked::Replayed(outcome));
            }
            // The same key twice in one group: the second is a retry of the first, and
            // gets the first's outcome from the log once that has committed.
            if let Some(key) = &p.request.idempotency_key
                && !keys_seen.insert(key.clone())
            {
                return Ok(Checked::Twin);
            }
            let batches = input::parse(p.format, &p.body, &schema, &rules)?;
            let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
            if alone {
                if !keys.is_empty() && rows > 0 {
                    super::check_keys_unique(engine, &delta, &batches, &keys, false).await?;
                }
                return Ok(Checked::Fresh(batches, KeyRows::default(), rows));
            }
            let texts = if keys.is_empty() { KeyRows::default() } else { key_rows(&batches, &keys)? };
            let mut mine: KeySet<&[u8]> = KeySet::with_capacity_and_hasher(texts.len(), Default::default());
            let mut errors = RowErrors::default();
            for (row, key) in texts.iter().enumerate() {
                if !mine.insert(key) {
                    errors.push(
                        0,
                        Some(&keys.join(",")),
                        format!(
                            "primary key {} appears more than once in the input",
                            key_display(&batches, &keys, row)
                        ),
                    );
                }
            }
            if !errors.is_empty() {
                return Err(EngineError::Rows(errors));
            }
            if let Some(clash) = texts.iter().position(|key| seen.contains(key)) {
                return Err(EngineError::Conflict(format!(
                    "duplicate primary key: {} already exist(s)",
                    key_display(&batches, &keys, clash)
                )));
            }
            Ok(Checked::Fresh(batches, texts, rows))
        }
        .await;
        match checked {
            Ok(Checked::Replayed(outcome)) => {
                let _ = p.reply.send(Ok(outcome));
            }
            Ok(Checked::Twin) => twins.push(p),
            Ok(Checked::Fresh(batches, texts, rows)) => {
                if more_than_one {
                    seen.extend(texts.iter().map(Box::from));
                }
                let PendingInsert { format, body, request, reply, redone } = p;
                accepted.push(Accepted { reply, request, format, body, redone, batches, rows, texts });
            }
            Err(e) => {
                let _ = p.reply.send(Err(e));
            }
        }
    }

    // Keys already in the table: the index rules most requests out at once; one it
    // cannot (a key, or only its hash, is in the table) is checked against the table.
    if indexed {
        let mut still = Vec::new();
        for a in accepted {
            if !engine.key_indexes.may_clash(location, &a.texts) {
                still.push(a);
                continue;
            }
            match super::check_keys_unique(engine, &delta, &a.batches, &keys, false).await {
                Ok(()) => still.push(a),
                Err(e) => {
                    let _ = a.reply.send(Err(e));
                }
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
        engine.counters.group_commit(group.len());
        accepted = rest;
        let commit = Commit::prepare(engine, location, &delta);
        let keyed: Vec<(&str, u64)> =
            group.iter().filter_map(|a| Some((a.request.idempotency_key.as_deref()?, a.rows))).collect();
        let props = commit.group_properties(&group[0].request.actor, &keyed);
        let batches: Vec<RecordBatch> =
            group.iter().flat_map(|a| a.batches.iter().cloned()).filter(|b| b.num_rows() > 0).collect();
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
            match commit.landed_table(write.await).await {
                Ok(Landed { version, reported: Some((t, ())) }) => {
                    let texts = group.iter().flat_map(|a| a.texts.iter());
                    engine.key_indexes.committed(location, commit.read_version, version, texts);
                    delta = t;
                    Ok(Some(version))
                }
                landed => {
                    // The key index stays at the version it holds; the next insert
                    // catches it up with whatever landed.
                    // The next user's commit starts from whatever the log now says.
                    if let Ok(t) = engine.open(location, TimeTravel::Latest).await {
                        delta = t;
                    }
                    landed.map(|l| Some(l.version))
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
            redo.extend(twins);
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
    redo.extend(twins.into_iter().map(|p| PendingInsert { redone: p.redone + 1, ..p }));
    redo
}
