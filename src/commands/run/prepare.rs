//! `run`, first phase: everything decided before the journal gets a line — flags, the
//! journal and what it holds, T0, one reading and check of the scenario, what to fire.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use sha2::Digest;

use std::time::Duration;

use crate::cli::{RetryArg, RunArgs};
use crate::client::{self, Client};
use crate::engine::{Branching, Item};
use crate::error::{Error, Exit};
use crate::fold::{Fold, Status};
use crate::journal::{self, Journal, PlanRow, Replay, RunHeader};
use crate::term::stderr_color as color;
use crate::timeline::Timeline;
use crate::workspace::Workspace;
use crate::{diff, scenario, validate};

/// What the run has decided before it writes anything.
pub struct Prepared {
    /// The scenario's path as the user gave it.
    pub shown: String,
    /// Its text as read.
    pub source: Arc<String>,
    /// A resumed run's scenario as applied during it (the file it came from), followed
    /// instead of `source`.
    pub applied: Option<String>,
    /// A live run's workspace, as the preflight read it (what a changed scenario is
    /// checked against too).
    pub ws: Option<Arc<Workspace>>,
    pub scenario_sha: String,
    pub speed: f64,
    pub max_speed: bool,
    /// The live target's client, checked (its token taken, its connection open); `None`
    /// for a dry run (the stand-in is started later).
    pub client: Option<Arc<Client>>,
    /// The live workspace's team and persona counts, as the preflight read them.
    pub workspace: Option<(usize, usize)>,
    pub journal_path: PathBuf,
    /// The journal as it will be at start; nothing is written to it before.
    pub journal: JournalStart,
    pub replay: Replay,
    /// The run this one resumes.
    pub resume_of: Option<RunHeader>,
    pub timeline: Arc<Timeline>,
    /// The same, as the run shares it: ad hoc injects join it as the run goes on.
    pub shared: Arc<crate::timeline::Shared>,
    /// The header's plan (each occurrence's instant, recipient and digest).
    pub plan: Option<Vec<PlanRow>>,
    /// Each occurrence's subject for people (timeline order); empty past the plan's
    /// size limit.
    pub subjects: Vec<String>,
    /// The occurrence keys this run is about (all, or those of `--only`), in firing order.
    pub keys: Vec<String>,
    /// What it fires, in firing order (contingencies are added as they trigger).
    pub items: Vec<Item>,
    /// Its expectations and contingencies, where they stand.
    pub branching: Option<Branching>,
}

/// Check the flags, open the journal, read and check the scenario once, and choose what
/// to fire. `Err(Exit)` when the scenario is invalid (its diagnostics are printed).
pub async fn prepare(args: &RunArgs, now: DateTime<Utc>) -> Result<Result<Prepared, Exit>, Error> {
    let (speed, max_speed) = flags(args)?;
    let source = super::super::read_scenario(&args.file)?;
    let scenario_sha = hex(&sha2::Sha256::digest(source.as_bytes()));
    let shown = args.file.display().to_string();
    // The target: never a flag for the token; the env var or a file.
    let client = if args.dry_run {
        None
    } else {
        let target = super::super::target_from(&args.target)?;
        Some(Arc::new(Client::new(target, settings(args))?))
    };
    let journal_path = args
        .journal
        .clone()
        .unwrap_or_else(|| default_journal(&args.file, args.dry_run));
    let (journal, replay, resume_of) = open_journal(args, &journal_path)?;
    if let Some(h) = &resume_of
        && !args.allow_other_scenario
        && !same_file(Path::new(&h.scenario), &args.file)
    {
        return Err(Error::usage(
            format!(
                "the journal {} holds a run of {}, not of {shown}",
                journal_path.display(),
                h.scenario
            ),
            Some(
                "resume with the scenario the run began with, or pass --allow-other-scenario to match its occurrences by key",
            ),
        ));
    }
    // T0 and speed: a resume keeps the original run's.
    let (start_at, speed, max_speed) = match &resume_of {
        Some(h) => {
            let t0 = DateTime::parse_from_rfc3339(&h.t0)
                .map_err(|e| Error::usage(format!("the journal's T0 is unreadable: {e}"), None))?;
            (Some(t0), h.speed.unwrap_or(1.0), h.speed.is_none())
        }
        None => (
            super::super::parse_start_at(args.start_at.as_deref(), now)?,
            speed,
            max_speed,
        ),
    };
    let seed = run_seed(resume_of.as_ref(), args.seed)?;
    // Live: the token and the workspace, before the scenario is checked against it.
    let ws = match &client {
        Some(client) => Some(preflight(client).await?),
        None => None,
    };
    // A resume rebuilds the exercise as the journal left it: the scenario applied last
    // (an `applied` line) in place of the file, unless another file is given on purpose;
    // the injects sent ad hoc and the amendments on top.
    let applied = last_applied(&replay).filter(|_| {
        resume_of
            .as_ref()
            .is_some_and(|h| same_file(Path::new(&h.scenario), &args.file))
    });
    let applied_used = applied.is_some();
    let applied_file = applied.map(|(file, _, _)| file.to_string());
    let (base, base_shown, scenario_sha) = match applied {
        Some((file, text, sha)) => {
            tracing::info!(
                "the run took a changed scenario ({file}) while it ran: it resumes with that scenario as applied, not with {shown}'s own text"
            );
            (
                Arc::new(text.to_string()),
                file.to_string(),
                sha.to_string(),
            )
        }
        None => (source.clone(), shown.clone(), scenario_sha),
    };
    let rebuilt = rebuild(
        &base_shown,
        base,
        &replay,
        (start_at, speed, seed),
        (now, args.dry_run),
        ws.as_ref(),
    );
    let timeline = match rebuilt {
        Ok((timeline, warnings)) => {
            for w in warnings {
                tracing::warn!("{w}");
            }
            timeline
        }
        Err(Rejected::Invalid(diags)) => {
            let said = super::super::invalid(&diags, &base_shown, "nothing was sent", color());
            eprint!("{said}");
            if applied_used {
                // Its text is the journal's: what changed is the workspace it is checked against.
                eprintln!(
                    "hint: the run follows {base_shown} as applied during the run (its text is in the journal); resume with a corrected copy: --allow-other-scenario and that file in place of {shown}"
                );
            }
            return Ok(Err(Exit::Usage));
        }
        Err(Rejected::Join(message)) => {
            return Err(Error::usage(
                message,
                Some("resume with the scenario the run began with"),
            ));
        }
    };
    if !args.dry_run && resume_of.is_none() {
        refuse_past_t0(&timeline, now, args.late_max)?;
    }
    let timeline = Arc::new(timeline);
    let Schedule {
        plan,
        subjects,
        prior,
        keys,
        items,
        branching,
    } = schedule(args, &timeline, &replay, max_speed)?;
    if let Some(h) = &resume_of {
        report_resume(
            h,
            (&scenario_sha, applied_used),
            &plan,
            &prior,
            &keys,
            args.resend_uncertain,
        );
    }
    let workspace = ws.as_ref().map(|w| (w.teams.len(), w.personas.len()));
    Ok(Ok(Prepared {
        shown,
        source,
        applied: applied_file,
        ws: ws.map(Arc::new),
        scenario_sha,
        speed,
        max_speed,
        client,
        workspace,
        journal_path,
        journal,
        replay,
        resume_of,
        shared: crate::timeline::Shared::new(timeline.clone()),
        timeline,
        plan,
        subjects,
        keys,
        items,
        branching,
    }))
}

/// What a run fires, and how it shows it, from its timeline and its journal.
pub struct Schedule {
    pub plan: Option<Vec<PlanRow>>,
    pub subjects: Vec<String>,
    /// The journal's account of each occurrence.
    pub prior: Fold,
    pub keys: Vec<String>,
    pub items: Vec<Item>,
    pub branching: Option<Branching>,
}

/// The plan's rows, what to fire and the branches where the journal left them: the
/// same for a run's start, a resume and the run rebuilt after an apply.
pub fn schedule(
    args: &RunArgs,
    timeline: &Timeline,
    replay: &Replay,
    max_speed: bool,
) -> Result<Schedule, Error> {
    let (plan, bodies, subjects) = plan_rows(timeline, max_speed);
    let prior = replay.fold();
    let model = crate::adaptive::Model::new(timeline).map(Arc::new);
    let (keys, mut items) = choose(args, timeline, &prior, bodies, model.as_deref())?;
    let branching = match model {
        Some(model) => Some(branching(args, timeline, model, replay, &prior, &keys)?),
        None if args.assume.is_some() => {
            return Err(Error::usage(
                "--assume: this scenario has no expected actions to judge",
                Some("expected actions are `expect:` on an inject, or `expectations:`"),
            ));
        }
        None => None,
    };
    if let Some(b) = &branching {
        for item in &mut items {
            item.watched = b.model.watched[item.occ];
        }
    }
    Ok(Schedule {
        plan,
        subjects,
        prior,
        keys,
        items,
        branching,
    })
}

/// Whom each occurrence goes to (in the plan's words) and its subject, as the page and
/// the terminal list them (timeline order): what went, as it went (a later apply or
/// edit does not change it); the rest as planned. Empty past the plan's size limit.
pub fn lists(
    plan: Option<&Vec<PlanRow>>,
    subjects: &[String],
    replay: &Replay,
) -> (Vec<String>, Vec<String>) {
    let Some(plan) = plan else {
        return (Vec::new(), subjects.to_vec());
    };
    let went = replay.rows_as_went();
    plan.iter()
        .zip(subjects)
        .map(|(row, subject)| match went.get(row.key.as_str()) {
            Some(w) => (
                crate::control::to_words(w),
                crate::message::short(w.subject.as_deref().unwrap_or("")),
            ),
            None => (crate::control::to_words(row), subject.clone()),
        })
        .unzip()
}

/// The run's branches: judgments assumed (`--assume`), and for a resume, where the
/// journal left them, with the triggered occurrences still to fire.
fn branching(
    args: &RunArgs,
    timeline: &Timeline,
    model: Arc<crate::adaptive::Model>,
    replay: &Replay,
    prior: &Fold,
    keys: &[String],
) -> Result<Branching, Error> {
    let assumptions = match &args.assume {
        Some(text) => crate::adaptive::parse_assumptions(text, &model)
            .map_err(|e| Error::usage(e, Some(&crate::adaptive::assume_example(&model))))?,
        None => Vec::new(),
    };
    let in_run: HashSet<&str> = keys.iter().map(String::as_str).collect();
    Ok(Branching::resume(
        timeline,
        model,
        replay.events(),
        prior,
        &in_run,
        assumptions,
    ))
}

/// The client's timeouts and retries from the flags.
pub fn settings(args: &RunArgs) -> client::Settings {
    client::Settings {
        connect_timeout: args.connect_timeout,
        request_timeout: args.timeout,
        retry: match args.retry {
            RetryArg::All => client::RetryPolicy::All,
            RetryArg::Safe => client::RetryPolicy::Safe,
        },
        ..client::Settings::default()
    }
}

/// Before T0, what can be checked of a live target: it answers, it takes the token, and
/// its workspace (teams and personas, fresh) for the scenario's ids. The connection it
/// opened stays in the client's pool for the first sends.
async fn preflight(client: &Client) -> Result<Workspace, Error> {
    super::super::read_workspace(
        client,
        false,
        "nothing was sent",
        Some("its teams and personas are checked before T0; nothing was sent"),
    )
    .await
}

/// A live run whose T0 lies further back than `--late-max` would skip everything due
/// before then as too late: refused, with the two ways forward. A resume keeps its T0.
fn refuse_past_t0(
    timeline: &Timeline,
    now: DateTime<Utc>,
    late_max: Duration,
) -> Result<(), Error> {
    let behind = (now - timeline.t0.to_utc()).to_std().unwrap_or_default();
    if behind <= late_max {
        return Ok(());
    }
    let round = |d: Duration| humantime::format_duration(Duration::from_secs(d.as_secs()));
    // A value to type as it is: whole hours, an hour beyond the delay.
    let hours = behind.as_secs() / 3600 + 2;
    let late = if Duration::from_secs(hours * 3600) <= crate::scenario::MAX_OFFSET {
        format!("; to send what is late at once and go on, pass --late fire --late-max {hours}h")
    } else {
        String::new()
    };
    Err(Error::Usage {
        message: format!(
            "T0 {} was {} ago, longer than --late-max {}: every inject due before {} would be skipped as too late",
            crate::timeline::show_time(timeline.t0, timeline.scenario.timezone),
            round(behind),
            round(late_max),
            crate::timeline::show_time(
                (now - chrono::TimeDelta::from_std(late_max).unwrap_or_default())
                    .with_timezone(&timeline.t0.timezone()),
                timeline.scenario.timezone
            ),
        ),
        hint: Some(format!(
            "to play the timeline from now, pass --start-at now{late}"
        )),
    })
}

/// `--speed` and `--concurrency`: the speed factor, and whether it is `max`.
fn flags(args: &RunArgs) -> Result<(f64, bool), Error> {
    if args.concurrency == 0 {
        return Err(Error::usage("--concurrency must be at least 1", None));
    }
    match args.speed.as_deref() {
        None => Ok((1.0, false)),
        Some("max") => Ok((1.0, true)),
        Some(s) => match crate::cli::parse_speed(s) {
            Ok(f) => Ok((f, false)),
            Err(e) => Err(Error::usage(
                format!("--speed {e}"),
                Some("write a factor such as 60, or `max`"),
            )),
        },
    }
}

/// What the run does with its journal when it starts (and not before).
pub enum JournalStart {
    /// Append to this journal (a resume), or create it (`None`: there is none yet).
    Keep(Option<Journal>),
    /// Archive this journal beside itself and start a new one: `--fresh`, or a dry run
    /// after a finished dry run (a rehearsal repeats).
    Archive(Journal),
}

impl JournalStart {
    /// The journal, ready for the run's header: the old one archived first when asked.
    pub fn start(self, path: &Path, now: DateTime<Utc>, fsync: bool) -> Result<Journal, Error> {
        match self {
            JournalStart::Keep(Some(journal)) => Ok(journal),
            JournalStart::Keep(None) => Ok(Journal::create(path, fsync)?),
            JournalStart::Archive(old) => {
                old.close()?;
                let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
                // Never over an earlier archive: two within the same second get `-2`, ...
                let archived = (1..)
                    .map(|n| match n {
                        1 => journal::archive_path(path, &stamp),
                        n => journal::archive_path(path, &format!("{stamp}-{n}")),
                    })
                    .find(|p| !p.exists())
                    .expect("a free name");
                fs_err::rename(path, &archived)?;
                tracing::info!(
                    "the journal {} held a finished run: archived as {}; this run starts anew",
                    path.display(),
                    archived.display()
                );
                Ok(Journal::create(path, fsync)?)
            }
        }
    }
}

/// Open and lock the journal if there is one (writing nothing), and decide what its
/// earlier run means for this one: `--fresh` archives it, `--resume` continues it, a
/// finished dry run (or one a director ended) is archived for the next rehearsal,
/// anything else is refused.
fn open_journal(
    args: &RunArgs,
    path: &Path,
) -> Result<(JournalStart, Replay, Option<RunHeader>), Error> {
    let Some((journal, text)) = Journal::open_existing(path, !args.no_fsync)? else {
        if args.resume {
            tracing::warn!(
                "--resume: the journal {} holds no run; starting anew",
                path.display()
            );
        }
        return Ok((JournalStart::Keep(None), Replay::default(), None));
    };
    let replay = Replay::parse(&text);
    for p in &replay.problems {
        tracing::warn!("journal {}: {p}", path.display());
    }
    let Some(last) = replay.runs.last().cloned() else {
        if args.resume {
            tracing::warn!(
                "--resume: the journal {} holds no run; starting anew",
                path.display()
            );
        }
        return Ok((JournalStart::Keep(Some(journal)), replay, None));
    };
    if args.fresh {
        return Ok((JournalStart::Archive(journal), Replay::default(), None));
    }
    // A rehearsal repeats: one that ran to its end, or that a director ended, is archived
    // (once the run is sure to start) and the new one starts anew.
    if !args.resume
        && args.dry_run
        && last.dry_run
        && (replay.last_completed || replay.last_ended_by_director)
    {
        return Ok((JournalStart::Archive(journal), Replay::default(), None));
    }
    if !args.resume {
        if replay.last_completed {
            // A resume would send nothing: say so, not suggest it.
            let failed = replay.fold().totals().0.failed;
            let retry = if failed > 0 {
                format!(
                    "; --resume --retry-failed would send its {} again",
                    crate::human::count(failed, "failed occurrence", "failed occurrences")
                )
            } else {
                String::new()
            };
            return Err(Error::usage(
                format!(
                    "the journal {} holds a completed run of {}: everything in it was handled",
                    path.display(),
                    last.scenario
                ),
                Some(&format!(
                    "pass --fresh to archive it and start anew (a resume would send nothing more{retry}), or --journal PATH for a journal of its own"
                )),
            ));
        }
        return Err(Error::usage(
            format!(
                "the journal {} holds an unfinished run of {}",
                path.display(),
                last.scenario
            ),
            Some(
                "pass --resume to continue it (nothing sent is sent again), or --fresh to archive it and start anew",
            ),
        ));
    }
    if last.dry_run != args.dry_run {
        return Err(Error::usage(
            format!(
                "the journal {} holds a {} run; this one is {}",
                path.display(),
                mode(last.dry_run),
                mode(args.dry_run)
            ),
            Some("a dry run never shares a journal with a live run"),
        ));
    }
    if args.start_at.is_some() {
        return Err(Error::usage(
            "--start-at cannot be combined with --resume",
            Some("a resumed run keeps its T0"),
        ));
    }
    Ok((JournalStart::Keep(Some(journal)), replay, Some(last)))
}

/// Whether two paths name the same file (as written, or once resolved).
fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

fn mode(dry: bool) -> &'static str {
    if dry { "dry" } else { "live" }
}

/// Why a journal's exercise cannot be built: its scenario is invalid (the problems,
/// rendered), or an inject sent ad hoc cannot be put back into it.
pub enum Rejected {
    Invalid(crate::diag::Diagnostics),
    Join(String),
}

/// The `applied` line the journal holds last: its file, text and digest.
pub fn last_applied(replay: &Replay) -> Option<(&str, &str, &str)> {
    replay
        .events()
        .filter_map(|e| match e {
            crate::event::Event::Applied {
                file, text, sha256, ..
            } => Some((file.as_str(), text.as_str(), sha256.as_str())),
            _ => None,
        })
        .last()
}

/// The draws' seed: a resume keeps the run's (the journal's); `--seed` is for a start.
fn run_seed(resume_of: Option<&RunHeader>, flag: Option<u64>) -> Result<Option<u64>, Error> {
    match (resume_of.and_then(|h| h.seed), flag) {
        (Some(journaled), Some(flag)) if journaled != flag => Err(Error::usage(
            format!(
                "--seed {flag}: the run being resumed drew with seed {journaled}, and a resume sends what it planned"
            ),
            Some(
                "leave --seed out to resume; to rehearse another draw, start a new run with its own --journal",
            ),
        )),
        (Some(journaled), _) => Ok(Some(journaled)),
        (None, flag) => Ok(flag),
    }
}

/// The exercise a journal makes of `base` (the scenario's text, or the one applied
/// last; `shown`, its name): the injects sent ad hoc joined in the order they came,
/// each amendment made again, all checked once as `run` checks a scenario. T0 is chosen
/// from the scenario as read (a dry run of a scenario whose `start` has passed starts
/// now); a live run's is checked against its workspace (`@handles` resolved, persona
/// and team ids known), as `validate --online` does. With the warnings of `base`'s own
/// text (the injects sent ad hoc had theirs when they were made). The same for a run's
/// start, a resume, an apply's preview and the run rebuilt after it.
pub fn rebuild(
    shown: &str,
    base: Arc<String>,
    replay: &Replay,
    (start_at, speed, seed): (Option<DateTime<FixedOffset>>, f64, Option<u64>),
    (now, dry_run): (DateTime<Utc>, bool),
    ws: Option<&Workspace>,
) -> Result<(Timeline, Vec<String>), Rejected> {
    let own_len = base.len();
    let mut text: Option<String> = None;
    for e in replay.events() {
        if let crate::event::Event::AdHoc { id, inject, .. }
        | crate::event::Event::Amended { id, inject, .. } = e
        {
            let joined = crate::adhoc::join(text.as_deref().unwrap_or(&base), inject);
            text = Some(joined.ok_or_else(|| {
                Rejected::Join(format!(
                    "the journal holds the ad hoc inject `{id}`, which cannot be put back into {shown}: its `injects:` is not a block list"
                ))
            })?);
        }
    }
    let source = text.map_or(base, Arc::new);
    let (mut scenario, diags) = scenario::read(shown, source);
    if let (Some(s), Some(seed)) = (scenario.as_mut(), seed) {
        s.seed = seed;
    }
    let mut start_at = start_at;
    // A rehearsal of a scenario whose `start` has passed would skip everything as too
    // late: a dry run then starts now instead (the live run keeps the scenario's start).
    if dry_run
        && start_at.is_none()
        && let Some(start) = scenario.as_ref().and_then(|s| s.start)
        && start.to_utc() < now
    {
        tracing::info!(
            "dry run: the scenario's start {} has passed; T0 is now",
            start.to_rfc3339()
        );
        start_at = Some((now + crate::timeline::START_LEAD).fixed_offset());
    }
    let checked = validate::check_read(scenario, diags, start_at, speed, now, ws);
    if !checked.is_valid(false) {
        return Err(Rejected::Invalid(checked.diags));
    }
    let warnings: Vec<String> = checked
        .diags
        .items
        .iter()
        .filter(|d| (d.pos.offset as usize) < own_len)
        .map(|d| format!("{}:{}:{}: {}", d.file, d.line, d.column, d.message))
        .collect();
    let Some(mut timeline) = checked.timeline else {
        return Err(Rejected::Invalid(checked.diags));
    };
    // Each amendment made in the run: its occurrence made by its inject again (an
    // amendment of an occurrence the scenario no longer has is dropped with it).
    for e in replay.events() {
        if let crate::event::Event::Amended { key, id, .. } = e {
            timeline = match timeline.amended(key, id) {
                Some(t) => t,
                None => timeline.without_inject(id),
            };
        }
    }
    Ok((timeline, warnings))
}

/// The keys the run is about and the items it fires: every occurrence (or those of
/// `--only`) that earlier runs have not finished; one left uncertain by a crash only
/// with `--resend-uncertain`.
fn choose(
    args: &RunArgs,
    timeline: &Timeline,
    prior: &Fold,
    mut bodies: Vec<Option<bytes::Bytes>>,
    model: Option<&crate::adaptive::Model>,
) -> Result<(Vec<String>, Vec<Item>), Error> {
    let only = only_keys(&args.only, timeline)?;
    let mut keys = Vec::new();
    let mut items = Vec::new();
    for (index, occ) in timeline.occurrences.iter().enumerate() {
        if only.as_ref().is_some_and(|o| !o.contains(occ.key.as_str())) {
            continue;
        }
        keys.push(occ.key.clone());
        let status = prior.get(&occ.key).map(|s| s.status);
        match status {
            Some(Status::Uncertain) if !args.resend_uncertain => continue,
            Some(Status::Failed) if args.retry_failed => {}
            Some(Status::Sent) if only.is_some() => {
                let id = prior.get(&occ.key).and_then(|s| s.message_id.as_deref());
                tracing::warn!(key = %occ.key, message_id = id.unwrap_or("-"), "re-sending by hand (--only): it was sent before");
            }
            Some(Status::Sent | Status::Failed | Status::Skipped) if only.is_none() => continue,
            _ => {}
        }
        // A contingency fires when its condition holds, not at a planned instant.
        if model.is_some_and(|m| m.is_conditional(timeline, index)) {
            continue;
        }
        // With --speed max the instant is still the scenario's: journals and reports show
        // it; the engine just does not wait for it.
        let planned = timeline.fire_at(occ).to_utc();
        // Skipped, then unskipped to go at a time given: at that time.
        let due = prior.get(&occ.key).and_then(|s| s.rescheduled);
        items.push(Item {
            body: bodies.get_mut(index).and_then(Option::take),
            planned,
            ..Item::new(index, due.unwrap_or(planned))
        });
    }
    // In firing order (a rescheduled one takes its place by its new instant).
    items.sort_by_key(|i| (i.fire_at, i.occ));
    Ok((keys, items))
}

fn only_keys(only: &[String], t: &Timeline) -> Result<Option<HashSet<String>>, Error> {
    if only.is_empty() {
        return Ok(None);
    }
    let mut keys = HashSet::new();
    for want in only.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let matching: Vec<&str> = t
            .occurrences
            .iter()
            .filter(|o| o.key == want || t.id_of(o) == want)
            .map(|o| o.key.as_str())
            .collect();
        if matching.is_empty() {
            let hint = crate::diag::suggest(want, t.occurrences.iter().map(|o| o.key.as_str()));
            return Err(Error::Usage {
                message: format!("--only: no occurrence or inject `{want}`"),
                hint,
            });
        }
        keys.extend(matching.into_iter().map(String::from));
    }
    Ok(Some(keys))
}

/// `<stem>.journal.jsonl`, or `<stem>.dry-run.journal.jsonl`, in the working directory.
pub fn default_journal(file: &Path, dry_run: bool) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    PathBuf::from(if dry_run {
        format!("{stem}.dry-run.journal.jsonl")
    } else {
        format!("{stem}.journal.jsonl")
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// At most this many bytes of bodies serialized before a run; the rest are built when sent.
const SERIALIZED_BODIES: usize = 64 << 20;

/// The run's plan for the header: each occurrence's instant, channel, persona, recipient
/// and a digest of offset and body (for spotting edits on resume). And, from the same
/// build, each occurrence's exact body serialized (compact JSON), which the run sends as
/// it is unless its instant moves: a body is built once, not once more at its send.
/// The plan's rows, each body serialized (within a budget), and each occurrence's
/// subject for people: all from one rendering of each body.
fn plan_rows(
    t: &Timeline,
    max_speed: bool,
) -> (Option<Vec<PlanRow>>, Vec<Option<bytes::Bytes>>, Vec<String>) {
    if t.occurrences.len() > 100_000 {
        return (None, Vec::new(), Vec::new());
    }
    let mut subjects = Vec::with_capacity(t.occurrences.len());
    let mut budget = SERIALIZED_BODIES;
    let mut bodies = Vec::with_capacity(t.occurrences.len());
    let maker = journal::PlanRows::new(t, max_speed);
    let rows = t
        .occurrences
        .iter()
        .map(|o| {
            let journal::Rendered { row, body, short } = maker.render(o);
            subjects.push(short);
            bodies.push(body.filter(|json| json.len() <= budget).map(|json| {
                budget -= json.len();
                bytes::Bytes::from(json)
            }));
            row
        })
        .collect();
    (Some(rows), bodies, subjects)
}

/// Say what a resume finds: how much is done, what the scenario's edits changed, and
/// each occurrence left uncertain (not sent again unless asked).
fn report_resume(
    h: &RunHeader,
    (sha, applied): (&str, bool),
    plan: &Option<Vec<PlanRow>>,
    prior: &Fold,
    keys: &[String],
    resend_uncertain: bool,
) {
    let done = prior
        .iter()
        .filter(|(_, s)| !matches!(s.status, Status::Uncertain | Status::Pending))
        .count();
    tracing::info!(
        "resuming run {} (T0 {}): {done} occurrence(s) already done are not sent again",
        h.run_id,
        h.t0
    );
    // An apply's changes were said when it was made.
    if h.scenario_sha256 != sha && !applied {
        // The header kept each occurrence's digest of offset and body: the old scenario
        // itself is gone, so the keys are compared by digest (as `injector diff` does).
        fn digests(rows: &[PlanRow]) -> impl Iterator<Item = (&str, &str)> {
            rows.iter().map(|r| (r.key.as_str(), r.digest.as_str()))
        }
        match (h.plan.as_ref(), plan.as_ref()) {
            (Some(old), Some(new)) => {
                let diff::Keys {
                    mut added,
                    mut removed,
                    mut changed,
                } = diff::keys(digests(old), digests(new));
                added.sort();
                removed.sort();
                changed.sort();
                tracing::warn!(
                    "the scenario changed since the run began: added {:?}, removed {:?}, changed {:?}; matching by key",
                    added,
                    removed,
                    changed
                );
                for key in &changed {
                    if prior.get(key).is_some_and(|s| s.status == Status::Sent) {
                        tracing::warn!(
                            key = %key,
                            "changed after it was sent: its new body is not sent (--only {key} sends it again)"
                        );
                    }
                }
            }
            _ => tracing::warn!(
                "the scenario changed since the run began; matching occurrences by key"
            ),
        }
    }
    for key in keys {
        if prior.get(key).is_some_and(|s| s.unstarted) {
            tracing::info!(
                key = %key,
                "journaled as sending, but its request never started (the process stopped, not the machine): it is sent now"
            );
        }
    }
    if resend_uncertain {
        return;
    }
    for key in keys {
        if prior
            .get(key)
            .is_some_and(|s| s.status == Status::Uncertain)
        {
            tracing::warn!(
                key = %key,
                "UNCERTAIN: a request was started before the crash and its outcome is unknown; not sent again (--resend-uncertain sends it)"
            );
        }
    }
}
