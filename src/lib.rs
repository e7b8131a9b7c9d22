//! injector: validate, plan and fire Conducttr exercise scenarios.
//!
//! # Layout
//! The core, each module a noun of the domain (none imports [`commands`] or [`cli`]):
//! - [`yaml`]: YAML text to a tree of spanned nodes (serde-saphyr, with budgets).
//! - [`scenario`]: the tree to a checked scenario model; shape errors with positions.
//! - [`message`]: the `POST /messages` contract (shared by `validate` and the stand-in),
//!   and who a body goes to.
//! - [`timeline`]: occurrences in firing order and their exact bodies.
//! - [`validate`]: all of the above for one file, as diagnostics ([`diag`]).
//! - [`plan`], [`schema`], [`table`]: what `plan` and `schema` print, and text tables.
//! - [`client`]: HTTP to Conducttr with retries; [`workspace`]: its teams and personas;
//!   [`sync`] and [`mel`]: alias maps from it, and the Master Events List both ways.
//! - [`engine`]: the scheduler; it publishes [`event`]s and takes [`action`]s.
//! - [`adaptive`]: expected actions, deadlines and contingency injects, as a run (or
//!   `plan --assume`) decides them.
//! - [`journal`]: events as lines on disk, durably; [`fold`]: events to where each
//!   occurrence stands, for the [`board`], a resume and the [`report`].
//! - [`control`] (the control endpoint and page, live push), [`controllers`] (the white
//!   cell: names, roles, token hashes) and [`live`] (the terminal view).
//! - [`stand_in`]: the built-in Conducttr stand-in server.
//! - [`human`]: durations and moves in people's words and units.
//!
//! Around the core: [`cli`] (argument parsing), [`commands`] (one file per command
//! family, the only place that reads [`cli`] types), [`term`] (logging, the live line,
//! signals) and [`error`] (exit codes and failures).

pub mod action;
pub mod adaptive;
pub mod adhoc;
pub mod board;
pub mod cli;
pub mod client;
pub mod commands;
pub mod control;
pub mod controllers;
pub mod diag;
pub mod diff;
pub mod draw;
pub mod engine;
pub mod error;
pub mod event;
pub mod fold;
pub mod gate;
pub mod human;
pub mod journal;
pub mod live;
pub mod mel;
pub mod message;
pub mod plan;
pub mod report;
pub mod scenario;
pub mod schema;
pub mod stand_in;
pub mod sync;
pub mod table;
pub mod term;
pub mod timeline;
pub mod tls;
pub mod validate;
pub mod workspace;
pub mod yaml;

pub use commands::run;
pub use error::{Error, Exit};
