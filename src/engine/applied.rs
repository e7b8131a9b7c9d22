//! A changed scenario applied to the running exercise (`ctl apply NEW.yaml`).
//!
//! The run's side rebuilds the exercise with the new text exactly as a resume would
//! ([`Applier`]: the journal's injects sent ad hoc and its amendments on top, checked as
//! `run` checks a scenario). The difference to the running timeline is `injector diff`'s
//! ([`crate::diff::compare`], by occurrence key); each change to an occurrence that has
//! not gone is applied, each to one that went is left and said. Confirmed, the text is
//! journaled whole (an `applied` line, durably): from then on the run, and any resume,
//! is that exercise. The engine then ends this part of the run ([`super::Ending::Replan`])
//! and the run goes on, rebuilt from its journal as a resume is, in the same process:
//! an apply takes effect wholly (the line is there) or not at all (it is not).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::Digest;

use super::control::{Ask, Consequence, Cursor, Preview, Reply};
use super::{Dispatch, Engine, LatePolicy, moved};
use crate::action::{Action, Source};
use crate::diff::Change;
use crate::event::{AppliedChange, Event};
use crate::fold::{Fold, Status};
use crate::human;
use crate::timeline::Timeline;

/// What the run gives the engine to apply a changed scenario.
pub trait Applier: Send + Sync + 'static {
    /// The exercise with `text` (from `file`) as its scenario, as the run's journal
    /// makes it, and where each occurrence stands by the journal; or its problems,
    /// rendered against `text`.
    fn rebuild(&self, file: &str, text: &str) -> Result<Rebuilt, String>;
    /// The apply an `undo` would take back: the latest not undone.
    fn last_apply(&self) -> Result<Option<LastApply>, String>;
}

/// A scenario's text as the run follows it: its file's name, the text, its digest.
#[derive(Clone, Debug)]
pub struct Text {
    pub file: String,
    pub text: Arc<String>,
    pub sha256: String,
}

/// The apply an `undo` would take back.
#[derive(Clone, Debug)]
pub struct LastApply {
    /// When it was made.
    pub at: DateTime<Utc>,
    pub file: String,
    pub by: Option<String>,
    pub changes: Vec<AppliedChange>,
    /// The text it replaced (why not, when that is not known any more).
    pub before: Result<Text, String>,
}

/// An undo of an apply, as its words and its journal line say it, with the
/// occurrences the apply added, moved or changed (none of which may have gone).
struct Undoing {
    at: DateTime<Utc>,
    what: String,
    caused: Vec<String>,
}

/// The digest of a scenario's text, as the journal keeps it.
pub fn sha256(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a file cannot be applied though valid: it changes nothing, or only what went.
fn nothing_to_apply(file: &str, changes: &[Change], journaled: &[AppliedChange]) -> Option<String> {
    if changes.is_empty() {
        return Some(format!(
            "{file} is the exercise as it runs: nothing to apply (the injects sent ad hoc and the amendments made during the run are part of it)"
        ));
    }
    if journaled.iter().any(AppliedChange::applied) {
        return None;
    }
    Some(format!(
        "{file} changes only what went, and that is left as it went: {}; nothing to apply",
        journaled
            .iter()
            .map(|c| format!("{} ({})", c.key, c.detail))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The exercise a changed scenario makes, and where the journal has each occurrence.
pub struct Rebuilt {
    pub timeline: Timeline,
    pub fold: Fold,
    /// The subject of each occurrence that went, as it went.
    pub went: std::collections::HashMap<String, String>,
    /// Warnings of the text (an unquoted ` #Tag` that YAML reads as a comment, ...).
    pub warnings: Vec<String>,
    /// The digest of the scenario text the run follows now (the file's, or the one
    /// applied last): what an apply of this one replaces.
    pub current_sha256: String,
}

/// What one part of a run hands to the next when it ends to be rebuilt: its live
/// control, and what an undo must know of what was done before.
pub struct Handback {
    pub control: super::Control,
}

impl PartialEq for Handback {
    fn eq(&self, _: &Handback) -> bool {
        true
    }
}

impl Eq for Handback {}

impl std::fmt::Debug for Handback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handback")
    }
}

/// What a rebuilt run keeps of the part before it: when that began (what was done since
/// may still be undone) and what it sent, by key (what an undo must not have caused).
#[derive(Clone, Debug, Default)]
pub struct Carried {
    pub began: Option<DateTime<Utc>>,
    pub went: Vec<(String, DateTime<Utc>)>,
    pub passed: Vec<String>,
    /// Those whose last send failed (what `retry` may send again), with whether it may
    /// have arrived all the same.
    pub failed: Vec<(String, bool)>,
}

impl<D: Dispatch> Engine<D> {
    /// Apply the scenario `text` (from `file`), as asked: its changes previewed, then,
    /// confirmed, journaled whole; the run is then rebuilt with it.
    pub(super) async fn apply_scenario(
        &self,
        (file, text): (&str, &str),
        ask: &Ask,
        (source, by): (Source, Option<String>),
        cursor: &mut Cursor,
    ) -> std::io::Result<Reply> {
        let Some(applier) = cursor.applier.clone() else {
            return Ok(Reply::Refused(
                "this run cannot take a changed scenario (only `injector run` with --control can)"
                    .into(),
            ));
        };
        let to = Text {
            file: file.to_string(),
            text: Arc::new(text.to_string()),
            sha256: sha256(text),
        };
        self.apply_text(&*applier, &to, None, ask, (source, by), cursor)
            .await
    }

    /// The apply `undo` takes back, when it is the latest action that can be undone.
    pub(super) fn apply_to_undo(&self, cursor: &Cursor) -> Option<LastApply> {
        let last = cursor.applier.as_ref()?.last_apply().ok()??;
        let later = |at: Option<DateTime<Utc>>| at.is_none_or(|t| last.at > t);
        let judged = cursor
            .branch
            .as_ref()
            .and_then(|b| b.judgments.last())
            .map(|j| j.at);
        (later(cursor.clock.undoable.last().map(|u| u.at)) && later(judged)).then_some(last)
    }

    /// Undo the apply `last`: the scenario it replaced applied again, while nothing the
    /// apply added, moved or changed has gone out.
    pub(super) async fn undo_apply(
        &self,
        last: LastApply,
        ask: &Ask,
        (source, by): (Source, Option<String>),
        cursor: &mut Cursor,
    ) -> std::io::Result<Reply> {
        let Some(applier) = cursor.applier.clone() else {
            return Ok(Reply::Refused("nothing to undo".into()));
        };
        let what = format!(
            "the apply of {}{} at {}",
            last.file,
            last.by
                .as_ref()
                .map_or(String::new(), |b| format!(" by {b}")),
            self.clock_time(last.at)
        );
        let before = match &last.before {
            Ok(t) => t.clone(),
            Err(why) => return Ok(Reply::Refused(format!("cannot undo {what}: {why}"))),
        };
        let caused = last
            .changes
            .iter()
            .filter(|c| c.applied() && c.effect != "removed")
            .map(|c| c.key.clone())
            .collect();
        let undoing = Undoing {
            at: last.at,
            what,
            caused,
        };
        self.apply_text(
            &*applier,
            &before,
            Some(&undoing),
            ask,
            (source, by),
            cursor,
        )
        .await
    }

    /// Apply `to` (for an undo, the text an apply replaced), as asked.
    async fn apply_text(
        &self,
        applier: &dyn Applier,
        to: &Text,
        undoing: Option<&Undoing>,
        ask: &Ask,
        (source, by): (Source, Option<String>),
        cursor: &mut Cursor,
    ) -> std::io::Result<Reply> {
        let file = to.file.as_str();
        // Every line so far on disk: the journal's account of what went is whole.
        self.journal.settled().await?;
        let rebuilt = match applier.rebuild(file, &to.text) {
            Ok(r) => r,
            Err(why) => return Ok(Reply::Refused(why.trim_end().to_string())),
        };
        // An undo, once something the apply caused went: then it stays.
        if let Some(u) = undoing {
            let went: Vec<String> = u
                .caused
                .iter()
                .filter_map(|key| {
                    let s = rebuilt
                        .fold
                        .get(key)
                        .filter(|s| s.status != Status::Pending)?;
                    Some(match s.at {
                        Some(at) => format!("{key} at {}", self.clock_time(at)),
                        None => key.clone(),
                    })
                })
                .collect();
            if !went.is_empty() {
                return Ok(Reply::Refused(format!(
                    "cannot undo {}: since then {} went out ({}); nothing was changed (undo takes back the latest action only, so the ones before it stay too)",
                    u.what,
                    human::count(
                        went.len(),
                        "occurrence it changed",
                        "occurrences it changed"
                    ),
                    went.join(", ")
                )));
            }
        }
        let now = self.clock.now();
        let current = self.timeline();
        let new = &rebuilt.timeline;
        let changes = crate::diff::compare(&current, new, &|_| true);
        let mut journaled: Vec<AppliedChange> = Vec::new();
        let mut items: Vec<Consequence> = Vec::new();
        for change in &changes {
            let (c, consequence) = self.consider_change(
                change,
                (&current, new),
                (&rebuilt.fold, &rebuilt.went),
                cursor,
                now,
            );
            journaled.push(c);
            items.push(consequence);
        }
        // Occurrences amended during the run stay as they were amended.
        for o in new.occurrences.iter().filter(|o| o.inject != o.origin) {
            if rebuilt
                .fold
                .get(&o.key)
                .is_none_or(|s| s.status == Status::Pending)
            {
                items.push(Consequence {
                    key: o.key.clone(),
                    effect: "kept as amended".into(),
                    subject: new.subject(o),
                    ..Consequence::default()
                });
            }
        }
        let left: Vec<&AppliedChange> = journaled.iter().filter(|c| !c.applied()).collect();
        if undoing.is_none()
            && let Some(why) = nothing_to_apply(file, &changes, &journaled)
        {
            return Ok(Reply::Refused(why));
        }
        let mut text_words = match undoing {
            Some(u) => format!("undoes {}: {}", u.what, summary(&journaled)),
            None => format!("applies {file}: {}", summary(&journaled)),
        };
        if !left.is_empty() {
            text_words.push_str(&format!(
                "; {} to what went {} left as it went ({})",
                human::count(left.len(), "change", "changes"),
                if left.len() == 1 { "is" } else { "are" },
                left.iter()
                    .take(5)
                    .map(|c| c.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for w in &rebuilt.warnings {
            text_words.push_str(&format!("; warning: {w}"));
        }
        let action = match undoing {
            Some(_) => Action::undo(),
            None => Action::Apply {
                file: file.to_string(),
                text: to.text.to_string(),
            },
        };
        let mut preview = Preview::new(&action, text_words, true, items);
        preview.timezone = current.scenario.timezone.map(|z| z.name().to_string());
        if let Some(reply) = super::actions::not_yet(&preview, ask) {
            return Ok(reply);
        }
        let maker = crate::journal::PlanRows::new(new, self.config.max_speed);
        let rows = journaled
            .iter()
            .filter(|c| c.applied() && c.effect != "removed")
            .filter_map(|c| new.occurrences.iter().find(|o| o.key == c.key))
            .map(|o| maker.render(o).row)
            .collect();
        let summary = summary(&journaled);
        self.emit(Event::Applied {
            at: now,
            file: file.to_string(),
            sha256: to.sha256.clone(),
            text: to.text.to_string(),
            before_sha256: rebuilt.current_sha256.clone(),
            undoes: undoing.map(|u| crate::journal::time_text(u.at)),
            changes: journaled,
            rows,
            declared: Box::new(crate::journal::declared(&new.scenario)),
            source,
            by,
        })
        .await?;
        cursor.replan = true;
        let held = if cursor.clock.held_since.is_some() {
            " (held: nothing fires until the hold is released)"
        } else {
            ""
        };
        Ok(Reply::Done(match undoing {
            Some(u) => format!(
                "undone: {} ({summary}); the run goes on as before it{held}",
                u.what
            ),
            None => format!("applied {file}: {summary}; the run goes on with it{held}"),
        }))
    }

    /// One change as an apply takes it: applied (what it does, in words) or left (it
    /// went: when).
    fn consider_change(
        &self,
        change: &Change,
        (old, new): (&Timeline, &Timeline),
        (fold, went): (&Fold, &std::collections::HashMap<String, String>),
        cursor: &Cursor,
        now: DateTime<Utc>,
    ) -> (AppliedChange, Consequence) {
        let key = change.key();
        let find = |t: &Timeline| t.occurrences.iter().find(|o| o.key == key).cloned();
        let (was, is) = (find(old), find(new));
        let as_went = went.get(key).cloned();
        let shift = cursor.clock.shift;
        let at_of = |t: &Timeline, o: &crate::timeline::Occurrence| {
            (!t.is_contingent(o)).then(|| moved(t.fire_at(o).to_utc(), shift))
        };
        // The instants are in the words (clock time and T+), said once.
        let gone = fold.get(key).filter(|s| s.status != Status::Pending);
        // What went is known by what it was; the rest by what it becomes.
        let subject = match (&was, &is) {
            _ if gone.is_some() && as_went.is_some() => as_went.unwrap_or_default(),
            (Some(o), _) if gone.is_some() => old.subject(o),
            (_, Some(o)) => new.subject(o),
            (Some(o), None) => old.subject(o),
            (None, None) => String::new(),
        };
        let consequence = |effect: &str, detail: &str| Consequence {
            key: key.to_string(),
            effect: if detail.is_empty() {
                effect.to_string()
            } else {
                format!("{effect}: {detail}")
            },
            subject: subject.clone(),
            from: None,
            to: None,
            body: None,
        };
        if let Some(slot) = gone {
            let when = slot
                .at
                .map_or(String::new(), |t| format!(" at {}", self.clock_time(t)));
            let mut detail = format!("{}{when}", slot.status.name());
            if let Change::Changed { fields, .. } = change
                && fields.iter().any(|f| f.field == "expect")
            {
                detail.push_str("; its expected action's change applies");
            }
            let c = consequence("left", &detail);
            return (
                AppliedChange {
                    key: key.to_string(),
                    effect: "left".into(),
                    detail,
                },
                c,
            );
        }
        let passed = |o: &crate::timeline::Occurrence| {
            at_of(new, o).filter(|at| *at < now).map(|at| {
                let late = now - at;
                let goes = self.config.late == LatePolicy::Fire
                    && late.to_std().is_ok_and(|l| l <= self.config.late_max);
                if goes {
                    "its instant has passed: it goes at once".to_string()
                } else {
                    "its instant has passed: it is skipped as late".to_string()
                }
            })
        };
        let instant = |t: &Timeline, o: &crate::timeline::Occurrence| match at_of(t, o) {
            Some(at) => self.when(at, &cursor.clock),
            None => format!(
                "{} after its condition",
                human::duration_ms(o.offset.as_millis() as i64)
            ),
        };
        let (effect, mut detail) = match (change, &was, &is) {
            (Change::Added { .. }, _, Some(o)) => ("added", instant(new, o)),
            (Change::Removed { .. }, Some(o), _) => ("removed", instant(old, o)),
            (
                Change::Changed {
                    old_offset_ms,
                    new_offset_ms,
                    fields,
                    ..
                },
                Some(a),
                Some(b),
            ) => {
                let mut words = Vec::new();
                if old_offset_ms != new_offset_ms {
                    words.push(format!("{} -> {}", instant(old, a), instant(new, b)));
                }
                if !fields.is_empty() {
                    words.push(
                        fields
                            .iter()
                            .map(|f| f.field.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    );
                }
                let effect = match (old_offset_ms != new_offset_ms, fields.is_empty()) {
                    (true, true) => "moved",
                    (true, false) => "moved and changed",
                    _ => "changed",
                };
                (effect, words.join("; "))
            }
            _ => ("changed", String::new()),
        };
        if effect != "removed"
            && let Some(p) = is.as_ref().and_then(passed)
        {
            detail.push_str(&format!(" ({p})"));
        }
        let c = consequence(effect, &detail);
        (
            AppliedChange {
                key: key.to_string(),
                effect: effect.into(),
                detail,
            },
            c,
        )
    }
}

/// `1 added, 2 moved, 1 removed`: the applied changes counted by effect.
fn summary(changes: &[AppliedChange]) -> String {
    ["added", "moved", "moved and changed", "changed", "removed"]
        .into_iter()
        .filter_map(|effect| {
            let n = changes.iter().filter(|c| c.effect == effect).count();
            (n > 0).then(|| format!("{n} {effect}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
