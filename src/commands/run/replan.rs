//! `run`, rebuilt while it runs: a changed scenario applied (`ctl apply`), or an ad hoc
//! inject with branches, changes the exercise's model; the engine then ends its part of
//! the run ([`engine::Ending::Replan`]) and the run is made again from its journal,
//! exactly as a resume makes it (the same [`prepare::rebuild`] and
//! [`prepare::schedule`]), in the same process: the control endpoint, the page's
//! streams, the terminal and the stand-in stay; the board, the page's lists and the
//! shared timeline are swapped together, under the board's lock.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset, Utc};

use super::prepare::{self, Prepared, Rejected, Schedule};
use crate::board::Board;
use crate::cli::RunArgs;
use crate::engine::{self, Rebuilt};
use crate::error::Error;
use crate::journal::Replay;
use crate::workspace::Workspace;

/// How the engine has a changed scenario checked: the run's journal as it stands, and
/// what the run was started with.
pub struct RunApplier {
    args: RunArgs,
    /// The scenario file's text as this process read it: the run's before any apply.
    file: engine::Text,
    journal: PathBuf,
    t0: DateTime<FixedOffset>,
    speed: f64,
    /// The run's seed: a changed scenario applied draws with it too.
    seed: u64,
    max_speed: bool,
    ws: Option<Arc<Workspace>>,
}

impl RunApplier {
    pub fn new(args: &RunArgs, p: &Prepared) -> RunApplier {
        RunApplier {
            args: args.clone(),
            file: engine::Text {
                file: p.shown.clone(),
                text: p.source.clone(),
                sha256: engine::sha256(&p.source),
            },
            journal: p.journal_path.clone(),
            t0: p.timeline.t0,
            seed: p.timeline.scenario.seed,
            speed: p.speed,
            max_speed: p.max_speed,
            ws: p.ws.clone(),
        }
    }

    /// The journal as it is on disk now.
    fn replay(&self) -> Result<Replay, String> {
        let text = std::fs::read_to_string(&self.journal)
            .map_err(|e| format!("the journal {} cannot be read: {e}", self.journal.display()))?;
        Ok(Replay::parse(&text))
    }

    /// The exercise `base` (named `shown`) makes with what the journal holds, and what
    /// the run would fire of it.
    fn build(
        &self,
        shown: &str,
        base: Arc<String>,
        replay: &Replay,
        color: bool,
    ) -> Result<(crate::timeline::Timeline, Vec<String>, Schedule), String> {
        let (timeline, warnings) = prepare::rebuild(
            shown,
            base,
            replay,
            (Some(self.t0), self.speed, Some(self.seed)),
            (Utc::now(), self.args.dry_run),
            self.ws.as_deref(),
        )
        .map_err(|r| match r {
            Rejected::Invalid(diags) => {
                crate::commands::invalid(&diags, shown, "nothing was applied", color)
            }
            Rejected::Join(message) => message,
        })?;
        let schedule = prepare::schedule(&self.args, &timeline, replay, self.max_speed)
            .map_err(|e| format!("with {shown}, the run could not go on: {e}"))?;
        Ok((timeline, warnings, schedule))
    }
}

/// The applies of a journal that stand (an undo takes the latest back), oldest first.
fn standing(replay: &Replay) -> Vec<&crate::event::Event> {
    let mut stack = Vec::new();
    for e in replay.events() {
        if let crate::event::Event::Applied { undoes, .. } = e {
            match undoes {
                None => stack.push(e),
                Some(_) => {
                    stack.pop();
                }
            }
        }
    }
    stack
}

/// An `applied` line's text as the run follows it.
fn text_of(e: &crate::event::Event) -> Option<engine::Text> {
    match e {
        crate::event::Event::Applied {
            file, text, sha256, ..
        } => Some(engine::Text {
            file: file.clone(),
            text: Arc::new(text.clone()),
            sha256: sha256.clone(),
        }),
        _ => None,
    }
}

impl engine::Applier for RunApplier {
    fn last_apply(&self) -> Result<Option<engine::LastApply>, String> {
        let replay = self.replay()?;
        let stack = standing(&replay);
        let Some(crate::event::Event::Applied {
            at,
            file,
            by,
            changes,
            before_sha256,
            ..
        }) = stack.last()
        else {
            return Ok(None);
        };
        let before = match stack.len() {
            1 if self.file.sha256 == *before_sha256 => Ok(self.file.clone()),
            1 => Err(format!(
                "the scenario it replaced is not known any more ({} changed on disk since the run took it); apply the text you want instead",
                self.file.file
            )),
            n => {
                text_of(stack[n - 2]).ok_or_else(|| "the scenario it replaced is not known".into())
            }
        };
        Ok(Some(engine::LastApply {
            at: *at,
            file: file.clone(),
            by: by.clone(),
            changes: changes.clone(),
            before,
        }))
    }

    fn rebuild(&self, file: &str, text: &str) -> Result<Rebuilt, String> {
        let replay = self.replay()?;
        let (timeline, warnings, schedule) =
            self.build(file, Arc::new(text.to_string()), &replay, false)?;
        let went = replay
            .rows_as_went()
            .into_iter()
            .map(|(k, r)| (k.to_string(), r.subject.clone().unwrap_or_default()))
            .collect();
        // The text the run follows now: the one applied last, else the file's.
        let current_sha256 = prepare::last_applied(&replay)
            .map_or_else(|| self.file.sha256.clone(), |(_, _, sha)| sha.to_string());
        Ok(Rebuilt {
            timeline,
            fold: schedule.prior,
            went,
            warnings,
            current_sha256,
        })
    }
}

/// What the rebuilt run swaps in: the pieces the run's board, page and terminal share.
pub struct Swapped<'a> {
    pub board: &'a Arc<Mutex<Board>>,
    pub to: &'a Arc<std::sync::RwLock<Vec<String>>>,
    pub subjects: &'a Arc<std::sync::RwLock<Vec<String>>>,
}

/// Make the run again from its journal (the scenario applied last, the injects sent ad
/// hoc, the amendments, what went), as a resume would, and swap it in.
pub async fn replan(
    applier: &RunApplier,
    p: &mut Prepared,
    journal: &crate::journal::Journal,
    shared: Swapped<'_>,
) -> Result<(), Error> {
    journal.settled().await?;
    let cannot = |e: String| {
        Error::usage(
            format!("the run cannot go on with the exercise its journal now holds: {e}"),
            Some("resume it (`injector run ... --resume`): the journal has everything"),
        )
    };
    let replay = applier.replay().map_err(cannot)?;
    let (shown, base, sha) = match prepare::last_applied(&replay) {
        Some((file, text, sha)) => (
            file.to_string(),
            Arc::new(text.to_string()),
            sha.to_string(),
        ),
        None => (p.shown.clone(), p.source.clone(), p.scenario_sha.clone()),
    };
    let (timeline, _, schedule) = applier
        .build(&shown, base, &replay, crate::term::stderr_color())
        .map_err(cannot)?;
    let timeline = Arc::new(timeline);
    let Schedule {
        plan,
        subjects,
        keys,
        items,
        branching,
        ..
    } = schedule;
    {
        // Readers take the board's lock first, then the timeline: all of it at once.
        let mut board = shared.board.lock().unwrap_or_else(|e| e.into_inner());
        let mut fresh = Board::new(&timeline, keys.iter().cloned(), replay.events(), &items);
        fresh.follows(&board);
        *board = fresh;
        p.shared.set(timeline.clone());
        let (to_words, shown) = prepare::lists(plan.as_ref(), &subjects, &replay);
        *shared.to.write().unwrap_or_else(|e| e.into_inner()) = to_words;
        *shared.subjects.write().unwrap_or_else(|e| e.into_inner()) = shown;
    }
    tracing::info!(
        "the run is rebuilt from its journal ({shown} with what was improvised) and goes on: {} occurrence(s) to fire",
        items.len()
    );
    p.scenario_sha = sha;
    p.timeline = timeline;
    p.plan = plan;
    p.subjects = subjects;
    p.keys = keys;
    p.items = items;
    p.branching = branching;
    p.replay = replay;
    Ok(())
}
