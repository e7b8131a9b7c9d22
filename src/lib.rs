//! injector: validate, plan and fire Conducttr exercise scenarios.
//!
//! # Layout
//! - [`yaml`]: YAML text to a tree of spanned nodes (serde-saphyr, with budgets).
//! - [`scenario`]: the tree to a checked scenario model; shape errors with positions.
//! - [`message`]: the `POST /messages` contract, shared by `validate` and the stand-in.
//! - [`timeline`]: occurrences in firing order and their exact bodies.
//! - [`validate`]: all of the above for one file, as diagnostics.
//! - [`plan`], [`schema`]: what `plan` and `schema` print.
//! - [`diag`]: diagnostics and their rendering.
//! - [`cli`]: argument parsing; [`run`] dispatches a parsed command.

pub mod cli;
pub mod diag;
pub mod message;
pub mod plan;
pub mod scenario;
pub mod schema;
pub mod timeline;
pub mod validate;
pub mod yaml;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::json;

use cli::{Cli, Command, PlanArgs, PlanFormat, ReportFormat, ValidateArgs};

/// Exit codes, as documented in the README.
pub mod exit {
    /// Success: valid, all sent.
    pub const OK: i32 = 0;
    /// The scenario is invalid (or, for `run`, something was not sent).
    pub const INVALID: i32 = 1;
    /// Usage error, or a file that could not be read or written.
    pub const USAGE: i32 = 2;
}

/// A failure that ends a command, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    pub fn usage(message: impl Into<String>, hint: Option<&str>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: hint.map(String::from),
        }
    }

    pub fn exit_code(&self) -> i32 {
        exit::USAGE
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Usage { hint, .. } => hint.as_deref(),
            Error::Io(_) => None,
        }
    }
}

/// Run a parsed command; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Validate(args) => validate_cmd(args),
        Command::Plan(args) => plan_cmd(args),
        Command::Schema(args) => {
            write_output(args.output.output.as_deref(), &schema::schema_json())?;
            Ok(exit::OK)
        }
    }
}

fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Write to the `-o` file, or stdout.
pub fn write_output(path: Option<&Path>, text: &str) -> Result<(), Error> {
    match path {
        Some(path) => fs_err::write(path, text)?,
        None => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth reporting.
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// Read a scenario file's text. Non-UTF-8 content is an error of the file, not of usage.
pub fn read_scenario(path: &Path) -> Result<Arc<String>, Error> {
    let meta = fs_err::metadata(path)?;
    if meta.len() as usize > yaml::MAX_FILE_BYTES {
        return Err(Error::usage(
            format!(
                "{} is {} bytes; scenarios are limited to {} MiB",
                path.display(),
                meta.len(),
                yaml::MAX_FILE_BYTES >> 20
            ),
            Some("split the exercise into several scenarios"),
        ));
    }
    let bytes = fs_err::read(path)?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Arc::new(
            text.strip_prefix('\u{feff}')
                .map(String::from)
                .unwrap_or(text),
        )),
        Err(e) => Err(Error::usage(
            format!(
                "{} is not UTF-8 text (invalid byte at offset {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ),
            Some("a scenario is a YAML text file saved as UTF-8"),
        )),
    }
}

/// Parse `--start-at`: RFC 3339 or `now`.
pub fn parse_start_at(
    value: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<FixedOffset>>, Error> {
    match value {
        None => Ok(None),
        Some("now") => Ok(Some(now.fixed_offset())),
        Some(s) => DateTime::parse_from_rfc3339(s).map(Some).map_err(|e| {
            Error::usage(
                format!("--start-at `{s}` is not an RFC 3339 time ({e})"),
                Some("write e.g. 2026-03-28T09:00:00+01:00, or `now`"),
            )
        }),
    }
}

fn display_path(path: &Path) -> String {
    path.display().to_string()
}

fn validate_cmd(args: ValidateArgs) -> Result<i32, Error> {
    let now = Utc::now();
    let mut all_valid = true;
    let mut reports = Vec::new();
    let mut text = String::new();
    for path in &args.files {
        let source = read_scenario(path)?;
        let checked = validate::check(&display_path(path), source, None, 1.0, now);
        let valid = checked.is_valid(args.strict);
        all_valid &= valid;
        let (injects, occurrences, duration) = match &checked.timeline {
            Some(t) => (t.scenario.injects.len(), t.occurrences.len(), t.duration()),
            None => (0, 0, std::time::Duration::ZERO),
        };
        // Freeing a 100,000-inject tree costs tens of milliseconds the process
        // does not need to spend: it ends soon after.
        if let Some(t) = &checked.timeline
            && t.occurrences.len() > 10_000
        {
            std::mem::forget(t.scenario.clone());
        }
        match args.format {
            ReportFormat::Text => {
                eprint!("{}", checked.diags.render(stderr_color()));
                let verdict = if valid { "valid" } else { "invalid" };
                text.push_str(&format!(
                    "{}: {verdict}: {} error(s), {} warning(s); {injects} injects, {occurrences} occurrences over {}\n",
                    display_path(path),
                    checked.diags.error_count(),
                    checked.diags.warning_count(),
                    plan::show_offset(duration).trim_start_matches("T+"),
                ));
            }
            ReportFormat::Json => {
                let (errors, warnings): (Vec<_>, Vec<_>) = checked
                    .diags
                    .items
                    .iter()
                    .partition(|d| d.level == diag::Level::Error);
                reports.push(json!({
                    "file": display_path(path),
                    "valid": valid,
                    "errors": errors,
                    "warnings": warnings,
                    "injects": injects,
                    "occurrences": occurrences,
                    "duration": plan::show_offset(duration),
                    "duration_ms": duration.as_millis() as u64,
                }));
            }
        }
    }
    if args.format == ReportFormat::Json {
        let doc = json!({ "valid": all_valid, "strict": args.strict, "files": reports });
        text = serde_json::to_string_pretty(&doc).expect("json") + "\n";
    }
    write_output(args.output.output.as_deref(), &text)?;
    Ok(if all_valid { exit::OK } else { exit::INVALID })
}

fn plan_cmd(args: PlanArgs) -> Result<i32, Error> {
    let now = Utc::now();
    let start_at = parse_start_at(args.start_at.as_deref(), now)?;
    let source = read_scenario(&args.file)?;
    let checked = validate::check(&display_path(&args.file), source, start_at, args.speed, now);
    if !checked.is_valid(false) {
        eprint!("{}", checked.diags.render(stderr_color()));
        eprintln!(
            "{}: invalid: {} error(s); fix them to see the plan",
            display_path(&args.file),
            checked.diags.error_count()
        );
        return Ok(exit::INVALID);
    }
    let timeline = checked.timeline.expect("a valid scenario has a timeline");
    let text = match args.format {
        PlanFormat::Text => plan::text(&timeline, checked.t0_known),
        PlanFormat::Csv => plan::csv(&timeline),
        PlanFormat::Json => {
            serde_json::to_string_pretty(&plan::json(&timeline, checked.t0_known)).expect("json")
                + "\n"
        }
    };
    write_output(args.output.output.as_deref(), &text)?;
    Ok(exit::OK)
}
