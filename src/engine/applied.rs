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
}

/// The exercise a changed scenario makes, and where the journal has each occurrence.
pub struct Rebuilt {
    pub timeline: Timeline,
    pub fold: Fold,
    /// Warnings of the text (an unquoted ` #Tag` that YAML reads as a comment, ...).
    pub warnings: Vec<String>,
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
        // Every line so far on disk: the journal's account of what went is whole.
        self.journal.settled().await?;
        let rebuilt = match applier.rebuild(file, text) {
            Ok(r) => r,
            Err(why) => return Ok(Reply::Refused(why.trim_end().to_string())),
        };
        let now = self.clock.now();
        let current = self.timeline();
        let new = &rebuilt.timeline;
        let changes = crate::diff::compare(&current, new, &|_| true);
        let mut journaled: Vec<AppliedChange> = Vec::new();
        let mut items: Vec<Consequence> = Vec::new();
        for change in &changes {
            let (c, consequence) =
                self.consider_change(change, (&current, new), &rebuilt.fold, cursor, now);
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
        let applied = journaled.iter().filter(|c| c.applied()).count();
        if changes.is_empty() {
            return Ok(Reply::Refused(format!(
                "{file} is the exercise as it runs: nothing to apply (the injects sent ad hoc and the amendments made during the run are part of it)"
            )));
        }
        let left: Vec<&AppliedChange> = journaled.iter().filter(|c| !c.applied()).collect();
        if applied == 0 {
            return Ok(Reply::Refused(format!(
                "{file} changes only what went, and that is left as it went: {}; nothing to apply",
                left.iter()
                    .map(|c| format!("{} ({})", c.key, c.detail))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut text_words = format!("applies {file}: {}", summary(&journaled));
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
        let action = Action::Apply {
            file: file.to_string(),
            text: text.to_string(),
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
            sha256: sha2::Sha256::digest(text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            text: text.to_string(),
            changes: journaled,
            rows,
            source,
            by,
        })
        .await?;
        cursor.replan = true;
        Ok(Reply::Done(format!(
            "applied {file}: {summary}; the run goes on with it"
        )))
    }

    /// One change as an apply takes it: applied (what it does, in words) or left (it
    /// went: when).
    fn consider_change(
        &self,
        change: &Change,
        (old, new): (&Timeline, &Timeline),
        fold: &Fold,
        cursor: &Cursor,
        now: DateTime<Utc>,
    ) -> (AppliedChange, Consequence) {
        let key = change.key();
        let find = |t: &Timeline| t.occurrences.iter().find(|o| o.key == key).cloned();
        let (was, is) = (find(old), find(new));
        let shift = cursor.clock.shift;
        let at_of = |t: &Timeline, o: &crate::timeline::Occurrence| {
            (!t.is_contingent(o)).then(|| moved(t.fire_at(o).to_utc(), shift))
        };
        // The instants are in the words (clock time and T+), said once.
        let gone = fold.get(key).filter(|s| s.status != Status::Pending);
        // What went is known by what it was; the rest by what it becomes.
        let subject = match (&was, &is) {
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
            let when = slot.at.map_or(String::new(), |t| {
                format!(" at {}", self.when(t, &cursor.clock))
            });
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
                    (true, false) => "moved, changed",
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
    ["added", "moved", "moved, changed", "changed", "removed"]
        .into_iter()
        .filter_map(|effect| {
            let n = changes.iter().filter(|c| c.effect == effect).count();
            (n > 0).then(|| format!("{n} {effect}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
