//! The command line, as clap parses it. Doc comments here are the `--help` text.
//!
//! Only parsing lives here; [`crate::run`] turns these into actions. Nothing past that
//! point reads raw arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Validate, plan and fire Conducttr exercise scenarios.
#[derive(Debug, Parser)]
#[command(name = "injector", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check scenario files and report every problem at once.
    Validate(ValidateArgs),
    /// Show the resolved timeline: every occurrence, when it fires and what it sends.
    Plan(PlanArgs),
    /// Print the JSON Schema (draft-07) of the scenario format.
    Schema(SchemaArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct Output {
    /// Write the output to this file instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Treat warnings as errors.
    #[arg(long)]
    pub strict: bool,
    /// Output shape.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Scenario file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// T0: an RFC 3339 time or `now` (default: the scenario's `start`, else now).
    #[arg(long, value_name = "RFC3339|now")]
    pub start_at: Option<String>,
    /// Divide every offset by this factor (rehearsals at speed).
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    pub speed: f64,
    /// Output shape; `json` includes each exact request body.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[command(flatten)]
    pub output: Output,
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err(format!("`{s}` is not a positive number")),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
