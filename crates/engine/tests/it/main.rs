//! The engine at its own boundary: every operation through `Engine::run`, on real Delta
//! tables in a temporary directory, with other writers (delta-rs itself) committing in
//! between where a test needs another engine.

mod compaction;
mod freshness;
mod group_commit;
mod idempotency;
mod key_index;
mod support;
mod time_travel;
mod unknown_outcome;
