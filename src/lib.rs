//! injector: validate, plan and fire Conducttr exercise scenarios.
//!
//! # Layout
//! - [`yaml`]: YAML text to a tree of spanned nodes (serde-saphyr, with budgets).
//! - [`scenario`]: the tree to a checked scenario model; shape errors with positions.
//! - [`message`]: the `POST /messages` contract, shared by `validate` and the stand-in.
//! - [`timeline`]: occurrences in firing order and their exact bodies.
//! - [`validate`]: all of the above for one file, as diagnostics.
//! - [`plan`], [`schema`]: what `plan` and `schema` print.
//! - [`report`]: the after-action report from a journal.
//! - [`workspace`]: teams and personas of the Conducttr workspace; [`sync`] and [`mel`]:
//!   alias maps from it, and the Master Events List spreadsheet both ways.
//! - [`client`]: HTTP to Conducttr with retries; [`engine`]: the scheduler;
//!   [`journal`]: what a run did, durably; [`run`]: the `run` command around them.
//! - [`stand_in`]: the built-in Conducttr stand-in server.
//! - [`diag`]: diagnostics and their rendering.
//! - [`cli`]: argument parsing; [`run`] dispatches a parsed command.

pub mod board;
pub mod cli;
pub mod client;
pub mod control;
pub mod diag;
pub mod engine;
pub mod journal;
pub mod live;
pub mod mel;
pub mod message;
pub mod plan;
pub mod report;
pub mod run;
pub mod scenario;
pub mod schema;
pub mod stand_in;
pub mod sync;
pub mod timeline;
pub mod validate;
pub mod workspace;
pub mod yaml;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::json;

use cli::{Cli, Command, MockServerArgs, PlanArgs, PlanFormat, ReportFormat, ValidateArgs};

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
        Command::Validate(args) if args.online => block_on(false, "warn", validate_online(args)),
        Command::Validate(args) => validate_cmd(args, None),
        Command::Plan(args) => plan_cmd(args),
        Command::Schema(args) => {
            write_output(args.output.output.as_deref(), &schema::schema_json())?;
            Ok(exit::OK)
        }
        // The stand-in logs each request at debug level: shown by `mock-server`,
        // quiet inside a dry run.
        Command::MockServer(args) => block_on(
            false,
            "info,injector::stand_in=debug",
            mock_server_cmd(args),
        ),
        Command::Report(args) => report_cmd(args),
        Command::Ctl(args) => block_on(false, "warn", ctl_cmd(args)),
        Command::Teams(args) => block_on(false, "warn", list_cmd(args, true)),
        Command::Personas(args) => block_on(false, "warn", list_cmd(args, false)),
        Command::Sync(args) => block_on(false, "warn", sync_cmd(args)),
        Command::Import(args) => import_cmd(args),
        Command::Export(args) => export_cmd(args),
        Command::Run(args) => block_on(
            args.log_format == cli::LogFormat::Json,
            "info",
            run::run_cmd(args),
        ),
    }
}

/// Run an async command on a fresh runtime, with logs on stderr.
fn block_on<F: std::future::Future<Output = Result<i32, Error>>>(
    json_logs: bool,
    filter: &str,
    future: F,
) -> Result<i32, Error> {
    init_logging(json_logs, filter);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(future)
}

static PROGRESS: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

/// Show (or stop showing) a live line on the terminal; logs print above it.
pub fn set_progress(bar: Option<indicatif::ProgressBar>) {
    *PROGRESS.lock().unwrap_or_else(|e| e.into_inner()) = bar;
}

/// stderr, printing around the live line when there is one.
struct StderrAroundProgress;

impl std::io::Write for StderrAroundProgress {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = PROGRESS.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match bar {
            Some(bar) => bar
                .suspend(|| std::io::stderr().write_all(buf))
                .map(|()| buf.len()),
            None => std::io::stderr().write_all(buf).map(|()| buf.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Logs on stderr, human or JSON; `RUST_LOG` overrides the default filter.
pub fn init_logging(json: bool, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| StderrAroundProgress)
        .with_target(false);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.with_ansi(stderr_color()).try_init()
    };
}

/// Read a token from a file: surrounding white space is dropped; an empty file is an error.
/// The token itself never appears in an error message.
pub fn read_token_file(path: &Path) -> Result<String, Error> {
    let text = fs_err::read_to_string(path)?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::usage(
            format!("the token file {} is empty", path.display()),
            None,
        ));
    }
    Ok(token.to_string())
}

/// Wait for Ctrl-C or SIGTERM.
pub async fn interrupted() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

async fn mock_server_cmd(args: MockServerArgs) -> Result<i32, Error> {
    let token = match (args.token, &args.token_file) {
        (Some(token), _) => token,
        (None, Some(path)) => read_token_file(path)?,
        (None, None) => {
            let token = stand_in::random_token();
            eprintln!("stand-in token: {token}");
            token
        }
    };
    let world = match &args.world {
        Some(path) => stand_in::World::load(path).map_err(|e| {
            Error::usage(
                format!("cannot read the world file: {e}"),
                Some("see the README for the world file format"),
            )
        })?,
        None => stand_in::World::default(),
    };
    if args.fail_rate + args.throttle_rate + args.drop_rate > 1.0 {
        return Err(Error::usage(
            "--fail-rate, --throttle-rate and --drop-rate add up to more than 1",
            None,
        ));
    }
    let listen = tokio::net::lookup_host(&args.listen)
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| {
            Error::usage(
                format!("--listen `{}` is not an address", args.listen),
                Some("write HOST:PORT, e.g. 127.0.0.1:8787"),
            )
        })?;
    let base_path = format!("/{}", args.base_path.trim_matches('/'));
    let opts = stand_in::Options {
        listen,
        base_path,
        token,
        world,
        record: args.record.clone(),
        faults: stand_in::Faults {
            fail_rate: args.fail_rate,
            throttle_rate: args.throttle_rate,
            drop_rate: args.drop_rate,
            latency: args.latency,
            seed: args.seed,
        },
        link_ttl: args.link_ttl,
        check_ids: args.check_ids,
        personas_archive: None,
        kept_records: stand_in::KEPT_RECORDS,
    };
    let server = stand_in::StandIn::start(opts)
        .await
        .map_err(|e| Error::usage(format!("cannot listen on {listen}: {e}"), None))?;
    write_output(None, &format!("{}\n", server.base_url()))?;
    tracing::info!(url = %server.base_url(), record = ?args.record, "stand-in listening; Ctrl-C stops it");
    interrupted().await;
    tracing::info!("stopping: finishing open requests and flushing the record");
    server.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(exit::OK)
}

pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Write to the `-o` file, or stdout.
pub fn write_output(path: Option<&Path>, text: &str) -> Result<(), Error> {
    write_output_with(path, |out| out.write_all(text.as_bytes()))
}

/// [`write_output`] for output written piece by piece, through a buffer.
pub fn write_output_with(
    path: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    match path {
        Some(path) => {
            let mut out = std::io::BufWriter::new(fs_err::File::create(path)?);
            write(&mut out).and_then(|()| out.flush())?;
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            // A closed pipe (`| head`) is not an error worth reporting.
            if let Err(e) = write(&mut out).and_then(|()| out.flush())
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

/// T0 "now" is this far after launch, so that offset-zero injects are not late
/// for the time it takes to validate, open the journal and connect.
pub const START_LEAD: chrono::TimeDelta = chrono::TimeDelta::seconds(1);

/// Parse `--start-at`: RFC 3339 or `now` (which means now plus [`START_LEAD`]).
pub fn parse_start_at(
    value: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<FixedOffset>>, Error> {
    match value {
        None => Ok(None),
        Some("now") => Ok(Some((now + START_LEAD).fixed_offset())),
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

/// The Conducttr target from flags and the environment; the token is never a flag.
pub fn target_from(args: &cli::TargetArgs) -> Result<client::Target, Error> {
    let base = args
        .base_url
        .clone()
        .unwrap_or_else(|| client::DEFAULT_BASE_URL.to_string());
    let token = match &args.token_file {
        Some(path) => read_token_file(path)?,
        None => match std::env::var("CONDUCTTR_TOKEN") {
            Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => {
                return Err(Error::usage(
                    "no API token",
                    Some(
                        "set CONDUCTTR_TOKEN, or pass --token-file PATH (or rehearse with --dry-run)",
                    ),
                ));
            }
        },
    };
    client::Target::new(&base, token).map_err(|e| {
        Error::usage(
            format!("bad base URL: {e}"),
            Some("pass --base-url or set CONDUCTTR_BASE_URL"),
        )
    })
}

async fn workspace_of(
    target: &cli::TargetArgs,
    use_cache: bool,
) -> Result<workspace::Workspace, Error> {
    let client = client::Client::new(target_from(target)?, client::Settings::default())
        .map_err(|e| Error::usage(e, None))?;
    let ws = if use_cache {
        workspace::cached(&client).await
    } else {
        workspace::fetch(&client).await
    };
    ws.map_err(|e| Error::Usage {
        message: format!(
            "cannot read the workspace at {}: {e}",
            client.target().base_url
        ),
        hint: None,
    })
}

async fn ctl_cmd(args: cli::CtlArgs) -> Result<i32, Error> {
    let token = match &args.token_file {
        Some(path) => read_token_file(path)?,
        None => match std::env::var("INJECTOR_CONTROL_TOKEN") {
            Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => {
                return Err(Error::usage(
                    "no control token",
                    Some(
                        "pass --token-file PATH or set INJECTOR_CONTROL_TOKEN (run --control prints it)",
                    ),
                ));
            }
        },
    };
    let base = args
        .control
        .trim_end_matches('/')
        .split("/#")
        .next()
        .unwrap_or_default()
        .to_string();
    client::install_crypto();
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .map_err(|e| Error::usage(format!("cannot build the HTTP client: {e}"), None))?;
    let (path, body) = match &args.action {
        cli::CtlAction::Status => ("state", None),
        cli::CtlAction::Hold => ("hold", Some(json!({}))),
        cli::CtlAction::Resume => ("resume", Some(json!({}))),
        cli::CtlAction::Skip { key } => ("skip", Some(json!({"key": key}))),
        cli::CtlAction::Unskip { key } => ("unskip", Some(json!({"key": key}))),
        cli::CtlAction::Fire { key } => ("fire", Some(json!({"key": key}))),
        cli::CtlAction::Shift { by } => {
            control::parse_shift(by).map_err(|e| Error::usage(e, None))?;
            ("shift", Some(json!({"by": by})))
        }
    };
    let url = format!("{base}/api/{path}");
    let request = match &body {
        None => http.get(&url),
        Some(b) => http
            .post(&url)
            .json(b)
            .header("x-injector-source", "command"),
    };
    let resp = request.bearer_auth(&token).send().await.map_err(|e| {
        Error::usage(
            format!("cannot reach the run at {base}: {}", client::describe(&e)),
            None,
        )
    })?;
    let status = resp.status();
    let answer: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(Error::usage(
            "the control token was refused",
            Some("use the token the run printed at start"),
        ));
    }
    match (&args.action, status.is_success()) {
        (cli::CtlAction::Status, true) => write_output(
            None,
            &(serde_json::to_string_pretty(&answer).expect("json") + "\n"),
        )?,
        (_, true) => write_output(
            None,
            &format!("{}\n", answer["message"].as_str().unwrap_or("done")),
        )?,
        (_, false) => {
            eprintln!(
                "refused: {}",
                answer["error"].as_str().unwrap_or("unknown error")
            );
            return Ok(exit::INVALID);
        }
    }
    Ok(exit::OK)
}

async fn list_cmd(args: cli::ListArgs, teams: bool) -> Result<i32, Error> {
    let ws = workspace_of(&args.target, false).await?;
    let text = if teams {
        match args.format {
            cli::ListFormat::Text => {
                let mut t = String::from("ID        KIND  NAME\n");
                for team in &ws.teams {
                    t.push_str(&format!(
                        "{:<9} {:<5} {}\n",
                        team.id,
                        team.kind(),
                        team.name
                    ));
                }
                t
            }
            cli::ListFormat::Json => {
                let rows: Vec<_> = ws
                    .teams
                    .iter()
                    .map(|t| json!({"id": t.id, "kind": t.kind(), "name": t.name}))
                    .collect();
                serde_json::to_string_pretty(&rows).expect("json") + "\n"
            }
            cli::ListFormat::Yaml => {
                let rows: Vec<_> = ws
                    .teams
                    .iter()
                    .map(|t| json!({"id": t.id, "kind": t.kind(), "name": t.name}))
                    .collect();
                serde_saphyr::to_string(&rows)
                    .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?
            }
        }
    } else {
        match args.format {
            cli::ListFormat::Text => {
                let w = ws
                    .personas
                    .iter()
                    .map(|p| p.handle.len())
                    .max()
                    .unwrap_or(6)
                    .max(6);
                let mut t = format!("{:<10} {:<w$} {:<24} JOB TITLE\n", "HASH", "HANDLE", "NAME");
                for p in &ws.personas {
                    t.push_str(&format!(
                        "{:<10} {:<w$} {:<24} {}\n",
                        p.hash, p.handle, p.name, p.job_title
                    ));
                }
                t
            }
            cli::ListFormat::Json => {
                serde_json::to_string_pretty(&ws.personas).expect("json") + "\n"
            }
            cli::ListFormat::Yaml => serde_saphyr::to_string(&ws.personas)
                .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?,
        }
    };
    write_output(args.output.output.as_deref(), &text)?;
    Ok(exit::OK)
}

async fn validate_online(args: ValidateArgs) -> Result<i32, Error> {
    let ws = workspace_of(&args.target, true).await?;
    validate_cmd(args, Some(&ws))
}

async fn sync_cmd(args: cli::SyncArgs) -> Result<i32, Error> {
    let text = read_scenario(&args.file)?;
    let ws = workspace_of(&args.target, false).await?;
    let (new, changes) = sync::sync(&text, &ws)
        .map_err(|e| Error::usage(format!("{}: {e}", args.file.display()), None))?;
    for a in &changes.added {
        eprintln!("added {a}");
    }
    for u in &changes.updated {
        eprintln!("updated {u}");
    }
    for u in &changes.unknown {
        eprintln!("left alone {u}: not in the workspace");
    }
    if args.check {
        return Ok(if new == *text {
            exit::OK
        } else {
            exit::INVALID
        });
    }
    match &args.output.output {
        Some(out) => fs_err::write(out, &new)?,
        None if new != *text => fs_err::write(&args.file, &new)?,
        None => {}
    }
    eprintln!(
        "{}: {} added, {} updated, {} left alone",
        args.file.display(),
        changes.added.len(),
        changes.updated.len(),
        changes.unknown.len()
    );
    Ok(exit::OK)
}

fn import_cmd(args: cli::ImportArgs) -> Result<i32, Error> {
    let bytes = fs_err::read(&args.file)?;
    let ext = args
        .file
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let rows = match ext.as_str() {
        "xlsx" | "xlsm" => mel::xlsx_rows(&bytes),
        "csv" | "txt" => match String::from_utf8(bytes) {
            Ok(text) => mel::csv_rows(&text),
            Err(_) => Err("the CSV is not UTF-8 text".into()),
        },
        _ => Err(format!(
            "`.{ext}` is not a spreadsheet injector reads; give a .csv or .xlsx file"
        )),
    }
    .map_err(|e| Error::usage(format!("{}: {e}", args.file.display()), None))?;
    let name = args.name.clone().unwrap_or_else(|| {
        args.file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let imported = mel::import(&rows, &name)
        .map_err(|e| Error::usage(format!("{}: {e}", args.file.display()), None))?;
    for c in &imported.ignored_columns {
        eprintln!("note: column `{c}` is not a MEL column; ignored");
    }
    for p in &imported.problems {
        eprintln!(
            "{}: row {}: {}; left out",
            args.file.display(),
            p.row,
            p.reason
        );
    }
    write_output(args.output.output.as_deref(), &imported.yaml)?;
    // The result must pass validation, or say why not.
    let shown = args
        .output
        .output
        .as_ref()
        .map_or("(imported)".to_string(), |p| p.display().to_string());
    let checked = validate::check(
        &shown,
        Arc::new(imported.yaml.clone()),
        None,
        1.0,
        Utc::now(),
    );
    if !checked.is_valid(false) {
        eprint!("{}", checked.diags.render(stderr_color()));
        eprintln!(
            "the imported scenario does not pass validation yet: {} error(s) (fix them in the scenario, or in the spreadsheet and import again)",
            checked.diags.error_count()
        );
    }
    eprintln!(
        "{} inject(s) imported, {} row(s) left out",
        imported.injects,
        imported.problems.len()
    );
    Ok(if imported.problems.is_empty() && checked.is_valid(false) {
        exit::OK
    } else {
        exit::INVALID
    })
}

fn export_cmd(args: cli::ExportArgs) -> Result<i32, Error> {
    let now = Utc::now();
    let start_at = parse_start_at(args.start_at.as_deref(), now)?;
    let source = read_scenario(&args.file)?;
    let checked = validate::check(&display_path(&args.file), source, start_at, 1.0, now);
    if !checked.is_valid(false) {
        eprint!("{}", checked.diags.render(stderr_color()));
        return Ok(exit::INVALID);
    }
    let timeline = checked.timeline.expect("a valid scenario has a timeline");
    let text = match args.format {
        cli::ExportFormat::MelCsv => mel::export(&timeline),
    };
    write_output(args.output.output.as_deref(), &text)?;
    Ok(exit::OK)
}

fn validate_cmd(args: ValidateArgs, ws: Option<&workspace::Workspace>) -> Result<i32, Error> {
    let now = Utc::now();
    let mut all_valid = true;
    let mut reports = Vec::new();
    let mut text = String::new();
    for path in &args.files {
        let source = read_scenario(path)?;
        let checked = match ws {
            Some(ws) => validate::check_online(&display_path(path), source, None, 1.0, now, ws),
            None => validate::check(&display_path(path), source, None, 1.0, now),
        };
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

fn report_cmd(args: cli::ReportArgs) -> Result<i32, Error> {
    let bytes = fs_err::read(&args.journal)?;
    let text = String::from_utf8_lossy(&bytes);
    let report = report::Report::from_journal(&text);
    if report.runs == 0 {
        return Err(Error::usage(
            format!("{} holds no run", args.journal.display()),
            Some("give the journal a run wrote (default: <scenario stem>.journal.jsonl)"),
        ));
    }
    for p in &report.problems {
        eprintln!("warning: {}: {p}", args.journal.display());
    }
    let out = match args.format {
        cli::ReportShape::Text => report.text(),
        cli::ReportShape::Csv => report.csv(),
        cli::ReportShape::Json => report.json(),
        cli::ReportShape::Html => report.html(args.lanes == cli::Lanes::Team),
    };
    write_output(args.output.output.as_deref(), &out)?;
    Ok(exit::OK)
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
    let output = args.output.output.as_deref();
    match args.format {
        PlanFormat::Text => write_output(output, &plan::text(&timeline, checked.t0_known))?,
        PlanFormat::Csv => write_output(output, &plan::csv(&timeline))?,
        PlanFormat::Json => write_output_with(output, |out| {
            plan::write_json(&timeline, checked.t0_known, out)
        })?,
    }
    Ok(exit::OK)
}
