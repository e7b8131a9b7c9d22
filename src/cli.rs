//! The command line, as clap parses it. Doc comments here are the `--help` text.
//!
//! Only parsing lives here; [`crate::commands`] turns these into actions. Nothing past that
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
    /// Compare two versions of a scenario's timeline, occurrence by occurrence: added,
    /// removed, moved and changed (which body fields). Exit 0: the same; 1: they differ.
    Diff(DiffArgs),
    /// Print the JSON Schema (draft-07) of the scenario format.
    Schema(SchemaArgs),
    /// Fire the scenario: every occurrence as POST /messages at its instant, journaled.
    Run(RunArgs),
    /// After-action report from a run's journal: text, CSV, JSON or a one-page HTML timeline.
    Report(ReportArgs),
    /// Steer a running exercise: status, watch, hold, resume, skip, unskip, fire, shift,
    /// met, missed, note, end.
    Ctl(CtlArgs),
    /// The white cell: who may steer a run (`run --controllers FILE`), with roles.
    Controllers(ControllersArgs),
    /// List the workspace's teams (id, kind S/M/T, name).
    Teams(ListArgs),
    /// List the workspace's personas (hash, handle, name, job title).
    Personas(ListArgs),
    /// Fill or update a scenario's `personas:` and `teams:` maps from the workspace.
    Sync(SyncArgs),
    /// Turn a Master Events List spreadsheet (CSV or XLSX) into a scenario.
    Import(ImportArgs),
    /// Write a scenario as a Master Events List: CSV, or a workbook (XLSX).
    Export(ExportArgs),
    /// Print a shell completion script: `injector completions bash > /etc/bash_completion.d/injector`.
    Completions(CompletionsArgs),
    /// Run the built-in Conducttr stand-in server, for rehearsals and tests.
    ///
    /// The first line on stdout is its base URL; every request is logged on stderr and,
    /// with --record, appended to a JSON Lines file.
    MockServer(MockServerArgs),
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
    /// One self-contained page: the timeline as a picture, for the review meeting.
    Html,
}

#[derive(Debug, Args)]
pub struct Output {
    /// Write the output to this file instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Where the Conducttr workspace is: the same flags for every command that calls it.
#[derive(Debug, Args, Clone)]
pub struct TargetArgs {
    /// API base URL (else CONDUCTTR_BASE_URL, else https://api.conducttr.com/v1.1/eagle).
    #[arg(long, env = "CONDUCTTR_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// Read the API token from this file (else from the CONDUCTTR_TOKEN variable).
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output shape.
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Scenario file, edited in place (unless -o).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Show what would change without writing.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A MEL spreadsheet: .csv or .xlsx.
    #[arg(value_name = "MEL")]
    pub file: PathBuf,
    /// The scenario's name (default: the file's stem).
    #[arg(long)]
    pub name: Option<String>,
    /// Read these header cells as these MEL columns: `"Inject=Message,Event #=ID"`
    /// (HSEEP's names are known without it).
    #[arg(long, value_name = "HEADER=COLUMN,...")]
    pub map: Option<String>,
    /// The workbook's sheet to read (default: the first).
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// The row that holds the header (default: the first that is neither blank nor the
    /// scenario's header block), for a
    /// sheet with a title or a banner above it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub header_row: Option<u64>,
    /// The exercise's start (T0), for a sheet whose times are dates or clock times and
    /// that has no `Start` row: `2026-03-28T09:00:00` (in the sheet's `Time zone`, else
    /// give an offset, `+01:00`). It becomes the scenario's `start`.
    #[arg(long, value_name = "DATE-TIME")]
    pub start: Option<String>,
    /// Replace the file `-o` names if it exists (by default an import never overwrites
    /// a scenario: the aliases `sync` filled in, the edits made since, would be lost).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Conducttr's Master Events List columns, as CSV.
    MelCsv,
    /// The same as a workbook (XLSX): the injects, the expected actions and
    /// contingencies, and the scenario's header, a sheet each; times as Excel times and
    /// drop-down lists for From, Team and Method. Give `-o FILE`.
    MelXlsx,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Scenario file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Output shape.
    #[arg(long, value_enum, default_value_t = ExportFormat::MelCsv)]
    pub format: ExportFormat,
    /// T0, written as the sheet's `Start` (over the scenario's own): an RFC 3339 time
    /// or `now` (default: the scenario's `start`, none when it has none).
    #[arg(long, value_name = "RFC3339|now")]
    pub start_at: Option<String>,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Treat warnings as errors.
    #[arg(long)]
    pub strict: bool,
    /// Also check persona and team ids against the workspace (cached 15 minutes).
    #[arg(long)]
    pub online: bool,
    #[command(flatten)]
    pub target: TargetArgs,
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
    /// Resolve the branches: `met:ID[@OFFSET]`, `missed:ID[@OFFSET]` (comma-separated),
    /// `all-met` or `all-missed`. Unnamed expectations expire at their deadlines.
    #[arg(long, value_name = "JUDGMENTS")]
    pub assume: Option<String>,
    /// With `--format html`: lanes of the timeline, one per channel or per recipient.
    #[arg(long, value_enum, default_value_t = Lanes::Channel)]
    pub lanes: Lanes,
    /// The seed of the scenario's draws (jitter, `one_of`, crowds) over its `seed:`:
    /// to explore another draw; the same seed gives the same plan.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_seed)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The version before.
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The version after.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Only these occurrence keys or inject ids (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "KEY,...")]
    pub only: Vec<String>,
    /// T0 for both: an RFC 3339 time or `now` (default: each scenario's `start`, else now).
    #[arg(long, value_name = "RFC3339|now")]
    pub start_at: Option<String>,
    /// Output shape.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportShape {
    Text,
    Csv,
    Json,
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lanes {
    Channel,
    Team,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The journal of a run (complete, unfinished, crashed or dry).
    #[arg(value_name = "JOURNAL")]
    pub journal: PathBuf,
    /// Output shape.
    #[arg(long, value_enum, default_value_t = ReportShape::Text)]
    pub format: ReportShape,
    /// HTML timeline lanes: one per channel, or one per recipient team.
    #[arg(long, value_enum, default_value_t = Lanes::Channel)]
    pub lanes: Lanes,
    #[command(flatten)]
    pub output: Output,
}

/// `--late`: what to do with an occurrence whose instant has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LateArg {
    /// Send it at once, marked late.
    Fire,
    /// Journal it as skipped.
    Skip,
}

/// `--retry`: which failures to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RetryArg {
    /// Connection failures, timeouts, 429 and 5xx; may duplicate (and says so).
    All,
    /// Only what surely did not arrive: connection refused, 429, 503.
    Safe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// Scenario file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// T0: an RFC 3339 time or `now` (default: the scenario's `start`, else now).
    #[arg(long, value_name = "RFC3339|now")]
    pub start_at: Option<String>,
    /// Divide every offset by F (rehearsals), or `max`: fire in order as fast as accepted.
    #[arg(long, value_name = "F|max")]
    pub speed: Option<String>,
    /// The seed of the scenario's draws (jitter, `one_of`, crowds) over its `seed:`;
    /// journaled, and a resume keeps it.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_seed)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Journal file (default: <scenario stem>.journal.jsonl, or .dry-run.journal.jsonl).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Continue the journal's run with its T0; nothing sent is sent again.
    #[arg(long, conflicts_with = "fresh")]
    pub resume: bool,
    /// Archive the journal's old run and start anew.
    #[arg(long)]
    pub fresh: bool,
    /// Also send occurrences left uncertain by a crash (their outcome is unknown).
    #[arg(long, requires = "resume")]
    pub resend_uncertain: bool,
    /// Resume with a scenario file other than the one the journal's run began with.
    #[arg(long, requires = "resume")]
    pub allow_other_scenario: bool,
    /// Also send again the occurrences that failed (after a refused token, say).
    #[arg(long, requires = "resume")]
    pub retry_failed: bool,
    /// Check everything a run would (flags, journal, scenario, T0, target, token,
    /// workspace ids), report, and stop: nothing is sent or journaled.
    #[arg(long)]
    pub preflight_only: bool,
    /// What to do with an occurrence whose instant has passed.
    #[arg(long, value_enum, default_value_t = LateArg::Fire)]
    pub late: LateArg,
    /// Later than this, an occurrence is skipped whatever --late says.
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DUR")]
    pub late_max: std::time::Duration,
    /// Most requests in flight at once (a burst larger than this waits for answers).
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub concurrency: usize,
    /// Which failures to retry: `all` (may duplicate, and says so) or `safe`.
    #[arg(long, value_enum, default_value_t = RetryArg::All)]
    pub retry: RetryArg,
    /// In a dry run, judge expected actions by themselves: `met:ID[@OFFSET]`,
    /// `missed:ID[@OFFSET]` (scenario time, scaled by --speed), `all-met`, `all-missed`.
    #[arg(long, value_name = "JUDGMENTS", requires = "dry_run")]
    pub assume: Option<String>,
    /// Fire only these occurrence keys or inject ids (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "KEY,...")]
    pub only: Vec<String>,
    /// Send every message to this team instead of the scenario's.
    #[arg(long, value_name = "ID")]
    pub redirect_team: Option<String>,
    /// Rehearse against the built-in stand-in; nothing leaves the machine.
    #[arg(long)]
    pub dry_run: bool,
    /// Output shape on stdout: a summary, or JSON Lines of outcomes and a summary.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Shape of the logs on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Connect timeout of each request.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DUR")]
    pub connect_timeout: std::time::Duration,
    /// Timeout of each whole request.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DUR")]
    pub timeout: std::time::Duration,
    /// Open nothing ahead: each connection opens at its first send, at the instant. By
    /// default a group's connections are opened 2 s ahead of it (TCP and TLS only,
    /// nothing is sent on them) and each request waits on one, serialized, for its
    /// instant.
    #[arg(long)]
    pub no_preconnect: bool,
    /// The default now (kept so that older scripts run).
    #[arg(long, hide = true, conflicts_with = "no_preconnect")]
    pub preconnect: bool,
    /// Do not fsync the journal (for benchmarks only: a crash may lose entries).
    #[arg(long)]
    pub no_fsync: bool,
    /// Serve live control (JSON API and a page) on this address, e.g. 127.0.0.1:8790.
    #[arg(long, value_name = "ADDR")]
    pub control: Option<String>,
    /// Read the control token from this file (default: a random one, printed at start).
    #[arg(long, value_name = "PATH", requires = "control")]
    pub control_token_file: Option<PathBuf>,
    /// Who may steer the run: names, roles and token hashes (`injector controllers add`).
    /// Without it, the one control token is a director's.
    #[arg(
        long,
        value_name = "PATH",
        requires = "control",
        conflicts_with = "control_token_file"
    )]
    pub controllers: Option<PathBuf>,
    /// Serve --control over TLS with a certificate made at start (its SHA-256
    /// fingerprint is printed, for `ctl --fingerprint`). Needed on a non-loopback address.
    #[arg(long, value_enum, value_name = "self-signed", requires = "control")]
    pub control_tls: Option<TlsArg>,
    /// Serve --control over TLS with this certificate chain (PEM).
    #[arg(long, value_name = "PEM", requires_all = ["control", "control_tls_key"], conflicts_with = "control_tls")]
    pub control_tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --control-tls-cert.
    #[arg(long, value_name = "PEM", requires = "control_tls_cert")]
    pub control_tls_key: Option<PathBuf>,
    /// With --control, end by itself once every occurrence is handled (for unattended
    /// runs). By default a run with --control stays open after its last occurrence
    /// (expected actions judged, notes taken, undo possible) until a director ends it.
    #[arg(long, requires = "control")]
    pub end_when_done: bool,
}

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The run's control URL, as `run --control` printed it (before or after the
    /// action, like every option of `ctl`).
    #[arg(long, value_name = "URL", global = true)]
    pub control: Option<String>,
    /// Read the control token from this file (else INJECTOR_CONTROL_TOKEN).
    #[arg(long, value_name = "PATH", global = true)]
    pub token_file: Option<PathBuf>,
    /// Trust the run's TLS certificate by this SHA-256 fingerprint (as `run` printed it).
    #[arg(long, value_name = "SHA256", global = true)]
    pub fingerprint: Option<String>,
    /// Carry out an action that needs a confirmation without asking (for scripts).
    /// Without it, such an action shows what it would do and asks `y/N` on a terminal,
    /// and is refused (exit 1, its preview printed) without one.
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Only show what the action would do; change nothing.
    #[arg(long, global = true, conflicts_with = "yes")]
    pub preview: bool,
    /// For people (text: tables, messages), or JSON: the state for `status` and `watch`
    /// (a line per change), the run's answer for an action, the preview for `--preview`.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text, global = true)]
    pub format: ReportFormat,
    #[command(subcommand)]
    pub action: CtlAction,
}

/// A time a controller gives an action: scenario time, or from now.
#[derive(Debug, Args)]
pub struct TimeGiven {
    /// At this scenario time (`T+1h05m`, `01:05:00`), moved by holds and shifts like
    /// the rest.
    #[arg(
        long,
        value_name = "T+OFFSET",
        conflicts_with = "within",
        allow_hyphen_values = true
    )]
    pub at: Option<String>,
    /// This long from now (`5m`), in wall-clock time.
    #[arg(long = "in", value_name = "DUR", allow_hyphen_values = true)]
    pub within: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CtlAction {
    /// The clock, the timeline, the expected actions: a table (the state as JSON with
    /// --format json).
    Status,
    /// The state as it changes, until the run ends: the table, then the clock and the
    /// rows that changed (one JSON line per change with --format json).
    Watch,
    /// Stop the exercise clock.
    Hold,
    /// Restart it; what has not fired moves later by the hold's length.
    Resume,
    /// Skip an occurrence key, or an inject id with all its occurrences (several need
    /// a confirmation).
    Skip {
        /// An occurrence key (`gauge-reading#2`, `brief@blue`) or an inject id (all of
        /// its occurrences), as `status` lists them.
        key: String,
    },
    /// Undo a skip before it fires; one skipped when its instant came (too late, or
    /// skipped) is sent now, after a confirmation, or at a time given.
    Unskip {
        /// The occurrence key or inject id skipped before.
        key: String,
        /// For one skipped when its instant came: when it goes.
        #[command(flatten)]
        when: TimeGiven,
    },
    /// Send an occurrence now (also while held). A contingency whose condition does not
    /// hold yet needs a confirmation; on one judgment (`met: X`), firing it judges X.
    Fire {
        /// The occurrence key (or a contingency's inject id) to send now.
        key: String,
        /// Send a contingency whose condition can no longer hold (its alternative was
        /// judged or sent).
        #[arg(long)]
        force: bool,
    },
    /// Send an inject written now (the shape of one of the scenario's `injects:`, without
    /// the `- `): checked as `validate` checks a scenario, its exact request body shown
    /// for a confirmation, journaled, then sent now, or at its `at:` / `in:` (or --at /
    /// --in). Its key is its `id`, else `adhoc-N`. Not yet: `expect:`, `when:`, `cron:`.
    Send {
        /// The inject's YAML file, or `-` for stdin.
        #[arg(value_name = "FILE|-")]
        file: PathBuf,
        /// When it goes (else its own `at:`/`in:`, else now).
        #[command(flatten)]
        when: TimeGiven,
    },
    /// Amend an occurrence not yet sent: the fields to change (the scenario's shape, as
    /// in `send`), and/or its time (`at:`/`in:` in the file, or --at / --in). Shows its
    /// body and instant old to new for a confirmation; refused once it started or went.
    Amend {
        /// The occurrence's key, as `status` lists it (`press-query`, `gauge#3`).
        key: String,
        /// A YAML file of the fields to change (`subject: ...`, `body: ...`), or `-`.
        #[arg(long = "file", short = 'f', value_name = "FILE|-")]
        file: Option<PathBuf>,
        /// Its new time (else its own `at:`/`in:`, else the one it had).
        #[command(flatten)]
        when: TimeGiven,
    },
    /// Apply a changed scenario to the running exercise (director): checked as `validate`
    /// checks a scenario, its difference to the run shown as `injector diff` shows it
    /// (by occurrence key) for a confirmation; every change to what has not gone is
    /// applied (added, removed, moved, changed, conditions and expected actions too),
    /// changes to what went are listed and left. The run keeps its T0 and speed; injects
    /// sent ad hoc and amendments stay. Journaled whole: a resume needs no file.
    Apply {
        /// The changed scenario's YAML file, or `-` for stdin.
        #[arg(value_name = "FILE|-")]
        file: PathBuf,
        /// Only show what it would change (as --preview).
        #[arg(long)]
        dry: bool,
    },
    /// Send a failed occurrence again, now (once per failure; one whose last attempt may
    /// have arrived asks first).
    Retry {
        /// The failed occurrence's key.
        key: String,
    },
    /// Move everything not yet fired by DUR: `5m` later, `-5m` earlier (also `90s`,
    /// `1h30m`). DUR is wall-clock time: at --speed 60, `1m` moves each inject by a real
    /// minute. Always shows what it moves and asks for a confirmation; a shift that would
    /// put pending occurrences in the past is refused unless --late says what happens to
    /// them.
    Shift {
        /// How far: `5m`, `-2m`, `+1h`, `-90s`.
        #[arg(allow_hyphen_values = true, value_name = "DUR")]
        by: String,
        /// Occurrences the shift moves into the past: `fire` sends them at once, `skip`
        /// skips them as too late. Without it such a shift is refused.
        #[arg(long, value_enum)]
        late: Option<LateArg>,
    },
    /// Revert the last hold, release, shift, skip, unskip or judgment (director), while
    /// nothing it caused has gone out; refused, naming what went, otherwise.
    Undo,
    /// Judge an expected action met: its contingencies follow. The first judgment stands
    /// (--correct replaces it). A branch that would fire within a minute asks first.
    Met {
        /// The expectation's id (`expect: { id: ... }` or `expectations:`).
        id: String,
        /// A note kept with the judgment (the report shows it).
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Replace the judgment made before (missed) with this one, while the branch it
        /// set off has sent nothing.
        #[arg(long)]
        correct: bool,
    },
    /// Judge an expected action missed (before its deadline makes it so).
    Missed {
        /// The expectation's id (`expect: { id: ... }` or `expectations:`).
        id: String,
        /// A note kept with the judgment (the report shows it).
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Replace the judgment made before (met) with this one, while the branch it set
        /// off has sent nothing.
        #[arg(long)]
        correct: bool,
    },
    /// A note for the after-action report, about an occurrence, an expected action or
    /// objectives; tagged a strength or an area for improvement. Steers nothing.
    Note {
        /// The note itself, quoted: `"Blue cell argues about who calls the police"`.
        text: String,
        /// The occurrence key or inject id it is about.
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// The expected action it is about.
        #[arg(long, value_name = "ID")]
        expectation: Option<String>,
        /// An objective it is about (repeat for more): `--objective O1`.
        #[arg(long = "objective", value_name = "ID")]
        objectives: Vec<String>,
        /// It is a strength the report lists for its objectives.
        #[arg(long, conflicts_with = "improvement")]
        strength: bool,
        /// It is an area for improvement: the report's improvement plan lists it.
        #[arg(long)]
        improvement: bool,
    },
    /// Rate an objective (evaluator or director): P performed without challenges, S with
    /// some challenges, M with major challenges, U unable to be performed. Your latest
    /// rating of an objective stands; earlier ones are kept as its history.
    Rate {
        /// The objective's id (`objectives:` in the scenario): `O1`.
        objective: String,
        /// P, S, M or U.
        rating: String,
        /// Why, in a sentence the report shows beside the rating.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// End the exercise (director): nothing more fires; a resume can take it up. Shows
    /// what is left unsent and asks for a confirmation.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsArg {
    /// A certificate made at start, trusted by its printed fingerprint.
    SelfSigned,
}

#[derive(Debug, Args)]
pub struct ControllersArgs {
    #[command(subcommand)]
    pub action: ControllersAction,
}

#[derive(Debug, Subcommand)]
pub enum ControllersAction {
    /// Add someone: a random token is made and printed once (on stdout); the file keeps
    /// only its SHA-256.
    Add {
        /// Their name, as the journal and the report will say who did what.
        name: String,
        /// director (the clock and everything), controller (fire, skip, judge, notes),
        /// evaluator (read, notes, rate objectives) or observer (read, notes).
        #[arg(long, value_enum)]
        role: crate::controllers::Role,
        /// The controllers file (created if missing).
        #[arg(long, default_value = "controllers.yaml", value_name = "PATH")]
        file: PathBuf,
    },
    /// Take someone out of the file: their token is refused from the next run or
    /// resume on (a running exercise reads the file when it starts).
    Remove {
        /// Their name, as `controllers list` shows it.
        name: String,
        /// The controllers file.
        #[arg(long, default_value = "controllers.yaml", value_name = "PATH")]
        file: PathBuf,
    },
    /// Give someone a new token (printed once, on stdout); the old one is refused from
    /// the next run or resume on. Their name and role stay.
    Rotate {
        /// Their name, as `controllers list` shows it.
        name: String,
        /// The controllers file.
        #[arg(long, default_value = "controllers.yaml", value_name = "PATH")]
        file: PathBuf,
    },
    /// List who is in the file, with their roles (never their tokens).
    List {
        /// The controllers file.
        #[arg(long, default_value = "controllers.yaml", value_name = "PATH")]
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct MockServerArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "ADDR")]
    pub listen: String,
    /// Bearer token to expect (default: a random one, printed on stderr).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Read the bearer token to expect from this file.
    #[arg(long, value_name = "PATH", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// Append every request to this JSON Lines file.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Teams and personas to serve (YAML or JSON); default: those of the examples.
    #[arg(long, value_name = "FILE")]
    pub world: Option<PathBuf>,
    /// Path prefix of the API.
    #[arg(long, default_value = "/v1.1/eagle", value_name = "PATH")]
    pub base_path: String,
    /// Probability of answering POST /messages with a 5xx.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate, value_name = "P")]
    pub fail_rate: f64,
    /// Probability of answering POST /messages with 429 and Retry-After.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate, value_name = "P")]
    pub throttle_rate: f64,
    /// Probability of closing the connection without answering.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate, value_name = "P")]
    pub drop_rate: f64,
    /// Delay before answering: a duration (`50ms`) or a range (`10ms..200ms`).
    #[arg(long, value_parser = parse_latency, value_name = "DUR|MIN..MAX")]
    pub latency: Option<(std::time::Duration, std::time::Duration)>,
    /// Seed of the fault and latency draws, so a run can be repeated.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Close the connection after answering a refused request (an unknown path, or a
    /// `HEAD` such as a warm-up), as some servers do.
    #[arg(long)]
    pub close_refused: bool,
    /// Close a connection that has waited this long for a request, without a word (a
    /// keep-alive timeout, as servers have).
    #[arg(long, value_parser = parse_duration, value_name = "DUR")]
    pub idle_close: Option<std::time::Duration>,
    /// Refuse the first message whose body holds TEXT with a 422, then accept it: a
    /// failure to rehearse `ctl retry` on.
    #[arg(long, value_name = "TEXT")]
    pub refuse_once: Option<String>,
    /// How long a GET /personas link stays valid.
    #[arg(long, default_value = "15m", value_parser = parse_duration, value_name = "DUR")]
    pub link_ttl: std::time::Duration,
    /// Reject persona and team ids that are not in the world.
    #[arg(long)]
    pub check_ids: bool,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`{s}` is not a probability between 0 and 1")),
    }
}

/// A flag's duration: at most a year (longer is a typo, and overflows instants).
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("`{s}` is not a duration ({e}); write e.g. 50ms, 2s, 15m"))?;
    if d > std::time::Duration::from_secs(366 * 24 * 3600) {
        return Err(format!("`{s}` is more than a year"));
    }
    Ok(d)
}

fn parse_latency(s: &str) -> Result<(std::time::Duration, std::time::Duration), String> {
    match s.split_once("..") {
        Some((lo, hi)) => {
            let (lo, hi) = (parse_duration(lo)?, parse_duration(hi)?);
            if lo > hi {
                return Err(format!("`{s}`: the range's low end is above its high end"));
            }
            Ok((lo, hi))
        }
        None => parse_duration(s).map(|d| (d, d)),
    }
}

/// A speed factor, from a thousandth (a day's offset takes three years) to a million.
/// A seed as `seed:` takes it: a whole number from 0 to 2^63-1 (so any seed a run
/// used can be written in its scenario).
pub fn parse_seed(s: &str) -> Result<u64, String> {
    match s.trim().parse::<i128>() {
        Ok(n) if (0..=i128::from(i64::MAX)).contains(&n) => Ok(n as u64),
        Ok(_) => Err(format!(
            "`{s}` is out of range: a seed is a whole number from 0 to 9223372036854775807"
        )),
        Err(_) => Err(format!(
            "`{s}` is not a whole number: a seed is one from 0 up, e.g. --seed 7"
        )),
    }
}

pub fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && (0.001..=1_000_000.0).contains(&f) => Ok(f),
        Ok(f) if f.is_finite() && f > 0.0 => Err(format!(
            "`{s}` is out of range: a speed is between 0.001 and 1000000"
        )),
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

    /// `--help` says what every argument of every command is: none left blank.
    #[test]
    fn every_argument_has_its_help() {
        fn walk(cmd: &clap::Command, path: &str, blank: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") || arg.is_hide_set() {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    blank.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), blank);
            }
        }
        let mut blank = Vec::new();
        walk(&super::Cli::command(), "injector", &mut blank);
        assert!(blank.is_empty(), "arguments without help: {blank:?}");
    }
}
