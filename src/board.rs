//! What a run has done so far, occurrence by occurrence: the summary, the terminal's live
//! view and the control page read it.
//!
//! The run's event listener keeps it current from the engine's events, through the same
//! [`Fold`] a resume and the report use. It holds every occurrence the run is about:
//! those it fires, and those done by the runs it resumes (seeded from the journal), so
//! its totals are the whole run's. It keeps a few fixed-size facts per occurrence (no
//! copy of the events), and never decides anything: the engine and the journal do.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use crate::engine::Item;
use crate::event::Event;
use crate::fold::{Fold, Slot};
use crate::timeline::Timeline;

/// How many finished occurrences [`Board::recent`] remembers.
const RECENT: usize = 8;

/// One occurrence this run fires.
#[derive(Clone, Copy, Debug)]
pub struct Fired {
    /// Index into the timeline's occurrences.
    pub occ: usize,
    /// The instant the run started from (before holds and shifts).
    pub planned: DateTime<Utc>,
    /// Its slot in the board's fold.
    slot: usize,
    /// It went, failed or was skipped before a restart (not fired again).
    earlier: bool,
    /// Written or changed during the run: `ad hoc`, `amended`, `ad hoc, amended`.
    pub mark: Option<&'static str>,
}

/// What an event of the white cell makes of a row's mark.
fn marked(mark: Option<&'static str>, event: &Event) -> Option<&'static str> {
    match (event, mark) {
        (Event::AdHoc { .. }, _) => Some("ad hoc"),
        (Event::Amended { .. }, Some("ad hoc" | "ad hoc, amended")) => Some("ad hoc, amended"),
        (Event::Amended { .. }, _) => Some("amended"),
        _ => mark,
    }
}

/// Every occurrence of a run, with where it stands.
pub struct Board {
    fold: Fold,
    /// The whole exercise, in order of instants (ties in timeline order): what this run
    /// fires, and what went before a restart.
    rows: Vec<Fired>,
    /// The most recently finished slots (fold indices), newest last.
    recent: VecDeque<usize>,
    /// Contingency occurrences by key, not yet listed in `fired`: they join it when
    /// they go (their instant is known only once their condition holds).
    /// With its mark (an ad hoc contingency's).
    contingent: std::collections::HashMap<String, (usize, Option<&'static str>)>,
    /// The white cell's notes, oldest first (the runs it resumes' too).
    notes: Vec<NoteView>,
    /// Bumped by every change the board takes in: live push sends what changed since
    /// the version a page last had.
    version: u64,
    /// Per fold slot, the version that last changed it.
    touched: Vec<u64>,
    /// The version that last added or moved a row (a page then takes the whole board).
    layout: u64,
    /// How many occurrences the run's timeline has: an ad hoc inject's join at the end.
    occurrences: usize,
}

/// A note as the page shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NoteView {
    pub at: DateTime<Utc>,
    pub by: Option<String>,
    pub source: &'static str,
    pub text: String,
    pub key: Option<String>,
    pub expectation: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<crate::action::NoteTag>,
    /// An evaluator's rating of the objective it names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<crate::action::Rating>,
}

impl NoteView {
    /// The note an event records, if it is one.
    pub fn of(event: &Event) -> Option<NoteView> {
        match event {
            Event::Note {
                at,
                text,
                key,
                expectation,
                objectives,
                tag,
                rating,
                source,
                by,
            } => Some(NoteView {
                at: *at,
                by: by.clone(),
                source: source.name(),
                text: text.clone(),
                key: key.clone(),
                expectation: expectation.clone(),
                objectives: objectives.clone(),
                tag: *tag,
                rating: *rating,
            }),
            _ => None,
        }
    }
}

impl Board {
    /// A board about `keys` (the run's occurrences), with what `earlier` events (the
    /// runs this one resumes) did to them; `items` (in firing order) are what it fires.
    pub fn new<'a>(
        timeline: &Timeline,
        keys: impl ExactSizeIterator<Item = String>,
        earlier: impl Iterator<Item = &'a Event>,
        items: &[Item],
    ) -> Board {
        let mut fold = Fold::of_keys(keys);
        let mut notes = Vec::new();
        // The marks of rows written or amended before a restart.
        let mut marks: std::collections::HashMap<String, &'static str> = Default::default();
        for e in earlier {
            fold.apply(e);
            notes.extend(NoteView::of(e));
            let keys: Vec<&str> = match e {
                Event::AdHoc { rows, .. } => rows.iter().map(|r| r.key.as_str()).collect(),
                Event::Amended { key, .. } => vec![key.as_str()],
                _ => Vec::new(),
            };
            for k in keys {
                if let Some(m) = marked(marks.get(k).copied(), e) {
                    marks.insert(k.to_string(), m);
                }
            }
        }
        let mark = |occ: usize| marks.get(&timeline.occurrences[occ].key).copied();
        let fired: Vec<Fired> = items
            .iter()
            .map(|i| Fired {
                occ: i.occ,
                planned: i.fire_at,
                slot: fold.seed(timeline.occurrences[i.occ].key.clone()),
                earlier: false,
                mark: mark(i.occ),
            })
            .collect();
        // What went (or failed, or was skipped) before a restart: shown with the rest.
        let firing: std::collections::HashSet<usize> = items.iter().map(|i| i.occ).collect();
        let earlier: Vec<Fired> = timeline
            .occurrences
            .iter()
            .enumerate()
            .filter(|(i, _)| !firing.contains(i))
            .filter_map(|(i, o)| {
                let slot = fold.index_of(&o.key)?;
                let s = fold.slot(slot);
                (s.status != crate::fold::Status::Pending).then(|| Fired {
                    occ: i,
                    planned: s.planned.unwrap_or_else(|| timeline.fire_at(o).to_utc()),
                    slot,
                    earlier: true,
                    mark: mark(i),
                })
            })
            .collect();
        let mut rows = fired;
        rows.extend(earlier);
        rows.sort_by_key(|f| (f.planned, f.occ));
        let contingent = timeline
            .occurrences
            .iter()
            .enumerate()
            .filter(|(_, o)| timeline.is_contingent(o) && fold.index_of(&o.key).is_some())
            .map(|(i, o)| (o.key.clone(), (i, mark(i))))
            .collect();
        Board {
            fold,
            rows,
            recent: VecDeque::with_capacity(RECENT + 1),
            contingent,
            notes,
            version: 0,
            touched: Vec::new(),
            layout: 0,
            occurrences: timeline.occurrences.len(),
        }
    }

    /// Take the place of `old` (the run rebuilt while it runs): later than any version it
    /// had, with every row new, so that pages take the whole board again.
    pub fn follows(&mut self, old: &Board) {
        self.version = old.version + 1;
        self.layout = self.version;
        self.touched = vec![self.version; self.fold.len()];
    }

    /// Take in one event; events of keys outside the run are ignored.
    pub fn record(&mut self, event: &Event) {
        if let Event::AdHoc { rows, .. } = event {
            // Its occurrences joined the timeline at its end, in this order.
            self.version += 1;
            for row in rows {
                let planned = crate::journal::parse_time(&row.planned_at).unwrap_or_default();
                let slot = self.fold.seed(row.key.clone());
                self.place(Fired {
                    occ: self.occurrences,
                    planned,
                    slot,
                    earlier: false,
                    mark: Some("ad hoc"),
                });
                self.occurrences += 1;
            }
            return;
        }
        if let Event::Amended { key, after, .. } = event {
            // Amended: listed at its new instant.
            self.version += 1;
            if let (Some(n), Some(planned)) = (
                self.fold.index_of(key),
                crate::journal::parse_time(&after.planned_at),
            ) && let Some(i) = self.rows.iter().position(|f| f.slot == n)
            {
                let row = self.rows.remove(i);
                self.place(Fired {
                    planned,
                    mark: marked(row.mark, event),
                    ..row
                });
                if self.touched.len() <= n {
                    self.touched.resize(self.fold.len().max(n + 1), 0);
                }
                self.touched[n] = self.version;
            }
            return;
        }
        if let Some(note) = NoteView::of(event) {
            self.notes.push(note);
            self.version += 1;
            return;
        }
        let Some(n) = self.fold.apply(event) else {
            return;
        };
        self.version += 1;
        if self.touched.len() <= n {
            self.touched.resize(self.fold.len().max(n + 1), 0);
        }
        self.touched[n] = self.version;
        // Unskipped to go at a time given: listed at that time.
        if let Event::Rescheduled { due, .. } = event
            && let Some(i) = self.rows.iter().position(|f| f.slot == n)
        {
            let row = self.rows.remove(i);
            self.place(Fired {
                planned: *due,
                ..row
            });
        }
        if let Event::Sending { key, planned, .. } = event
            && let Some((occ, mark)) = self.contingent.remove(key)
        {
            // Contingency occurrences join as they go, in their place by instant.
            self.place(Fired {
                occ,
                planned: *planned,
                slot: n,
                earlier: false,
                mark,
            });
        }
        if matches!(event, Event::Sending { .. } | Event::Started { .. }) {
            return;
        }
        self.recent.push_back(n);
        if self.recent.len() > RECENT {
            self.recent.pop_front();
        }
    }

    /// The timeline index of the occurrence with this key, if the run lists it.
    pub fn occ_of(&self, key: &str) -> Option<usize> {
        let n = self.fold.index_of(key)?;
        self.rows.iter().find(|f| f.slot == n).map(|f| f.occ)
    }

    /// Where the occurrence with this key stands, if the run is about it.
    pub fn get(&self, key: &str) -> Option<&Slot> {
        self.fold.get(key)
    }

    /// A row in its place by instant.
    fn place(&mut self, row: Fired) {
        self.layout = self.version;
        let at = self
            .rows
            .partition_point(|f| (f.planned, f.occ) <= (row.planned, row.occ));
        self.rows.insert(at, row);
    }

    /// What this run fires, in firing order, each with where it stands.
    pub fn fired(&self) -> impl Iterator<Item = (&Fired, &Slot)> {
        self.whole().filter(|(f, _)| !f.earlier)
    }

    /// The whole exercise: what went before a restart and what this run fires, in
    /// order of their instants (ties in timeline order).
    pub fn whole(&self) -> impl Iterator<Item = (&Fired, &Slot)> {
        self.rows.iter().map(|f| (f, self.fold.slot(f.slot)))
    }

    /// The board's version: it grows with every change taken in.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The version that last added or moved a row.
    pub fn layout(&self) -> u64 {
        self.layout
    }

    /// Whether `row` changed after `version`.
    pub fn touched_after(&self, row: &Fired, version: u64) -> bool {
        self.touched.get(row.slot).is_some_and(|&v| v > version)
    }

    /// Finished occurrences, newest first (at most a few), with their keys.
    pub fn recent(&self) -> impl Iterator<Item = (&str, &Slot)> {
        self.recent
            .iter()
            .rev()
            .map(|&n| (self.fold.key(n), self.fold.slot(n)))
    }

    /// The notes taken so far, oldest first.
    pub fn notes(&self) -> &[NoteView] {
        &self.notes
    }

    /// Every occurrence the run is about, with where it stands.
    pub fn fold(&self) -> &Fold {
        &self.fold
    }
}
