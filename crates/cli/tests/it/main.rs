//! The `lakeward` binary as a user runs it.

mod admin;
mod client;
mod config;
mod serve;
mod support;
mod tidy;
