//! The command layer: one file per command family, and what they share.
//!
//! Each command turns its parsed arguments ([`crate::cli`]) into calls on the core and
//! an [`Exit`]. The shared pieces are here: reading a scenario and checking it, writing
//! output, reading tokens, the Conducttr target, `--start-at` and listen addresses.
//! The core never imports this module.

mod check;
mod ctl;
mod mel;
mod mock_server;
pub mod run;
mod workspace;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};

use crate::cli::{Cli, Command, LogFormat};
use crate::error::{Error, Exit};
use crate::timeline::Timeline;
use crate::validate::Checked;
use crate::{client, term, yaml};

/// Run a parsed command; returns how it ended.
pub fn run(cli: Cli) -> Result<Exit, Error> {
    match cli.command {
        Command::Validate(args) if args.online => {
            block_on(false, "warn", workspace::validate_online(args))
        }
        Command::Validate(args) => check::validate(args, None),
        Command::Plan(args) => check::plan(args),
        Command::Schema(args) => check::schema(args),
        Command::Diff(args) => check::diff(args),
        Command::Completions(args) => {
            let mut cli = <Cli as clap::CommandFactory>::command();
            // clap_complete panics on a failed write (`| head` closing the pipe): the
            // script is made in memory, and written as every output is.
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut cli, "injector", &mut script);
            write_output_with(args.output.output.as_deref(), |out| out.write_all(&script))?;
            Ok(Exit::Ok)
        }
        Command::Report(args) => check::report(args),
        // The stand-in logs each request at debug level: shown by `mock-server`,
        // quiet inside a dry run.
        Command::MockServer(args) => block_on(
            false,
            "info,injector::stand_in=debug",
            mock_server::mock_server(args),
        ),
        Command::Ctl(args) => block_on(false, "warn", ctl::ctl(args)),
        Command::Controllers(args) => ctl::controllers(args),
        Command::Teams(args) => block_on(false, "warn", workspace::list(args, true)),
        Command::Personas(args) => block_on(false, "warn", workspace::list(args, false)),
        Command::Sync(args) => block_on(false, "warn", workspace::sync(args)),
        Command::Import(args) => mel::import(args),
        Command::Export(args) => mel::export(args),
        Command::Run(args) => {
            // At `--speed max` sends overlap: every core helps. Timed, one thread is sooner.
            let timed = args.speed.as_deref().map(str::trim) != Some("max");
            block_on_with(
                args.log_format == LogFormat::Json,
                "info",
                timed,
                run::run(args),
            )
        }
    }
}

/// Run an async command on a fresh runtime, with logs on stderr.
fn block_on<F: std::future::Future<Output = Result<Exit, Error>>>(
    json_logs: bool,
    filter: &str,
    future: F,
) -> Result<Exit, Error> {
    block_on_with(json_logs, filter, false, future)
}

/// [`block_on`], on one thread when `one_thread` (a timed run: its requests are written
/// at each instant by a thread of the blocking pool, the answers read on the one thread;
/// before that thread wrote them, one thread had singles arrive 20–30 % sooner; now the
/// two are alike within the rounds' spread, see the README's benchmarks).
/// `INJECTOR_RUNTIME=multi-thread` or `current-thread` overrides the choice.
fn block_on_with<F: std::future::Future<Output = Result<Exit, Error>>>(
    json_logs: bool,
    filter: &str,
    one_thread: bool,
    future: F,
) -> Result<Exit, Error> {
    term::init_logging(json_logs, filter);
    let one_thread = match std::env::var("INJECTOR_RUNTIME").as_deref() {
        Ok("current-thread") => true,
        Ok("multi-thread") => false,
        _ => one_thread,
    };
    let runtime = if one_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    runtime.block_on(future)
}

/// Read a token from a file: surrounding white space is dropped; an empty file is an error.
/// The token itself never appears in an error message.
pub fn read_token_file(path: &Path) -> Result<String, Error> {
    let bytes = read_file(path, MAX_TOKEN_BYTES, "token file")?;
    let text = String::from_utf8_lossy(&bytes);
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::usage(
            format!("the token file {} is empty", path.display()),
            None,
        ));
    }
    Ok(token.to_string())
}

/// A secret from `--…-token-file`, else from the environment variable `var`; `missing`
/// and `hint` say what to do when neither has one.
fn token_from(file: Option<&Path>, var: &str, missing: &str, hint: &str) -> Result<String, Error> {
    match file {
        Some(path) => read_token_file(path),
        None => match std::env::var(var) {
            Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
            _ => Err(Error::usage(missing, Some(hint))),
        },
    }
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

/// Why a file given on the command line cannot be read, in words and with a hint.
fn unreadable(path: &Path, e: std::io::Error) -> Error {
    let (why, hint) = match e.kind() {
        std::io::ErrorKind::NotFound => (
            "there is no such file".to_string(),
            "check the path; a relative one starts from the current folder",
        ),
        std::io::ErrorKind::PermissionDenied => (
            "permission denied".to_string(),
            "check the file's permissions",
        ),
        std::io::ErrorKind::IsADirectory => ("it is a folder".to_string(), "give a file inside it"),
        _ => (e.to_string(), "check the path"),
    };
    Error::usage(format!("cannot read {}: {why}", path.display()), Some(hint))
}

/// The largest journal `report` reads (a million occurrences make about 400 MiB).
pub const MAX_JOURNAL_BYTES: u64 = 1 << 30;
/// The largest token file: a token is one short line.
const MAX_TOKEN_BYTES: u64 = 64 << 10;

/// Read a file given on the command line, whole, up to `limit` bytes: a larger file is
/// refused before it is read, and a device, a FIFO or a pipe (whose size is not known
/// ahead) is read only that far.
pub fn read_file(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let too_large = || {
        Error::usage(
            format!(
                "{} is larger than {} MiB: {what}s are limited to {} MiB",
                path.display(),
                limit >> 20,
                limit >> 20
            ),
            Some("give the file itself (not a device or an endless stream), or split it"),
        )
    };
    let file = std::fs::File::open(path).map_err(|e| unreadable(path, e))?;
    match file.metadata() {
        Ok(m) if m.is_dir() => {
            return Err(unreadable(
                path,
                std::io::Error::from(std::io::ErrorKind::IsADirectory),
            ));
        }
        Ok(m) if m.len() > limit => return Err(too_large()),
        _ => {}
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Read a scenario file's text. Non-UTF-8 content is an error of the file, not of usage.
pub fn read_scenario(path: &Path) -> Result<Arc<String>, Error> {
    let bytes = read_file(path, yaml::MAX_FILE_BYTES as u64, "scenario")?;
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

/// The timeline of a checked scenario; when it is invalid, its diagnostics and one line
/// saying what that means (`consequence`, e.g. "nothing was sent") on stderr, and `None`.
fn valid_timeline(checked: Checked, shown: &str, consequence: &str) -> Option<(Timeline, bool)> {
    if !checked.is_valid(false) {
        eprint!(
            "{}",
            invalid(&checked.diags, shown, consequence, term::stderr_color())
        );
        return None;
    }
    checked.timeline.map(|t| (t, checked.t0_known))
}

/// An invalid scenario's diagnostics, and one line saying what that means
/// (`consequence`, e.g. "nothing was sent").
pub(crate) fn invalid(
    diags: &crate::diag::Diagnostics,
    shown: &str,
    consequence: &str,
    color: bool,
) -> String {
    format!(
        "{}{shown}: invalid: {} error(s); {consequence}\n",
        diags.render(color),
        diags.error_count()
    )
}

/// Parse `--start-at`: RFC 3339 or `now` (which means now plus
/// [`crate::timeline::START_LEAD`]).
pub fn parse_start_at(
    value: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<FixedOffset>>, Error> {
    match value {
        None => Ok(None),
        Some("now") => Ok(Some((now + crate::timeline::START_LEAD).fixed_offset())),
        Some(s) => DateTime::parse_from_rfc3339(s).map(Some).map_err(|e| {
            Error::usage(
                format!("--start-at `{s}` is not an RFC 3339 time ({e})"),
                Some("write e.g. 2026-03-28T09:00:00+01:00, or `now`"),
            )
        }),
    }
}

/// A listen address given as `flag` (`--listen`, `--control`): HOST:PORT, resolved;
/// `example` is the flag's usual value, for the hint.
async fn listen_address(flag: &str, value: &str, example: &str) -> Result<SocketAddr, Error> {
    tokio::net::lookup_host(value)
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| {
            Error::usage(
                format!("{flag} `{value}` is not an address"),
                Some(&format!("write HOST:PORT, e.g. {example}")),
            )
        })
}

/// Check that the target answers and takes the token (`GET /teams`), before anything
/// else is asked of it: a wrong token or address is said plainly, not as an HTTP error
/// of whatever came next. `consequence` says what that means (e.g. "nothing was sent").
pub async fn token_accepted(client: &client::Client, consequence: &str) -> Result<(), Error> {
    let base = &client.target().base_url;
    let resp = client
        .http()
        .get(client.target().url("teams"))
        .bearer_auth(client.target().token())
        .send()
        .await
        .map_err(|e| {
            Error::usage(
                format!("cannot reach {base}: {}", client::describe(&e)),
                Some(&format!(
                    "check --base-url (or CONDUCTTR_BASE_URL) and the network; {consequence}"
                )),
            )
        })?;
    let status = resp.status();
    if status.is_redirection() {
        return Err(Error::usage(
            format!(
                "GET {base}/teams answered {status}, {}; {consequence}",
                client::redirect_text(
                    client::location(&resp)
                        .map(|l| client.target().redact(&l))
                        .as_deref()
                )
            ),
            None,
        ));
    }
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(Error::usage(
            format!("the API token was refused: GET {base}/teams answered {status}"),
            Some(&format!(
                "check CONDUCTTR_TOKEN or --token-file (the workspace's API token); {consequence}"
            )),
        ));
    }
    if !status.is_success() {
        return Err(Error::usage(
            format!("{base} is not answering as Conducttr's API: GET /teams answered {status}"),
            Some(&format!(
                "check --base-url (or CONDUCTTR_BASE_URL); {consequence}"
            )),
        ));
    }
    Ok(())
}

/// The most all of a workspace's reads may take together.
const WORKSPACE_BUDGET: std::time::Duration = std::time::Duration::from_secs(120);

/// The workspace at `client`'s target (through the 15-minute cache when `use_cache`). A
/// failure is said as a wrong token or address when that is what it is (only then is the
/// target asked [`token_accepted`]'s question), else as what failed, with `hint`;
/// `consequence` says what it means ("nothing was sent").
pub async fn read_workspace(
    client: &client::Client,
    use_cache: bool,
    consequence: &str,
    hint: Option<&str>,
) -> Result<crate::workspace::Workspace, Error> {
    // A time budget for all the reads (each is bounded by the request timeout too).
    let budget = WORKSPACE_BUDGET.max(client.settings().request_timeout * 2);
    let reads = async {
        if use_cache {
            crate::workspace::cached(client).await
        } else {
            crate::workspace::fetch(client).await
        }
    };
    let ws = match tokio::time::timeout(budget, reads).await {
        Ok(ws) => ws,
        Err(_) => Err(format!(
            "reading its teams, personas, positions and roles took longer than {} (a limit): the target is too slow",
            crate::human::duration(chrono::TimeDelta::from_std(budget).unwrap_or_default())
        )),
    };
    match ws {
        Ok(ws) => Ok(ws),
        Err(e) => {
            token_accepted(client, consequence).await?;
            Err(Error::usage(
                format!(
                    "cannot read the workspace at {}: {e}",
                    client.target().base_url
                ),
                hint,
            ))
        }
    }
}

/// "Cannot listen on ADDR" for `flag`, with a way out when the port is taken.
fn cannot_listen(flag: &str, listen: SocketAddr, e: std::io::Error) -> Error {
    let hint = (e.kind() == std::io::ErrorKind::AddrInUse).then_some(
        "another program (or another injector) listens there: pick another port, or port 0 for any free one",
    );
    Error::usage(format!("{flag}: cannot listen on {listen}: {e}"), hint)
}

/// The Conducttr target from flags and the environment; the token is never a flag.
pub fn target_from(args: &crate::cli::TargetArgs) -> Result<client::Target, Error> {
    let base = args
        .base_url
        .clone()
        .unwrap_or_else(|| client::DEFAULT_BASE_URL.to_string());
    let token = token_from(
        args.token_file.as_deref(),
        "CONDUCTTR_TOKEN",
        "no API token",
        "set CONDUCTTR_TOKEN, or pass --token-file PATH (or rehearse with --dry-run)",
    )?;
    Ok(client::Target::new(&base, token)?)
}
