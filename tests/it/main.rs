//! One integration-test binary; a module per feature. See `common` for the helpers.

mod aar;
mod api_examples;
mod branch;
mod branch_live;
mod common;
mod control_page;
mod diff;
mod docs;
mod endpoints;
mod faults;
mod first_hour;
mod hostile;
mod hostile_run;
mod house;
mod plan;
mod plan_branches;
mod plan_picture;
mod push;
mod report;
mod run;
pub mod schedule;
mod schema;
mod slips;
mod stand_in;
mod validate_rules;
mod white_cell;
mod workspace;
