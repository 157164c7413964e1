//! The real server, in-process on port 0 with a temporary data directory, driven over
//! HTTP with a real client.

mod api_keys;
mod audit;
mod auth;
mod body_limits;
mod cancel;
mod clones;
mod compare;
mod console;
mod constraints;
mod cross_org;
mod data;
mod diffs;
mod domains;
mod errors;
mod flight;
mod graphql;
mod imports;
mod jobs;
mod limits;
mod maintenance;
mod metrics;
mod openapi;
mod organisations;
mod output;
mod paging;
mod rate_limits;
mod rows;
mod schema_changes;
mod search;
mod sql;
mod storages;
mod support;
mod tables;
mod time_travel;
mod webhooks;
