//! The run's clocks, as the report tells time: wall instants in the scenario's zone, and
//! scenario time (T+), which stands still while held, moves back with a shift later and
//! runs `speed` times the wall clock.

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::action::Action;
use crate::event::Event;
use crate::journal::{Record, RunHeader};

#[derive(Clone, Debug)]
pub(super) struct Clock {
    pub t0: Option<DateTime<Utc>>,
    tz: Option<Tz>,
    /// T0's offset, for a run with no time zone.
    offset: FixedOffset,
    pub speed: f64,
    /// Every move of what was still to come: a hold's length (at its resume), a shift.
    moves: Vec<(DateTime<Utc>, i64)>,
    /// Every hold: from, until (none: never resumed).
    pub holds: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>,
}

impl Clock {
    /// The clocks of the newest run, with every hold and shift the journal records.
    pub fn of(last: Option<&RunHeader>, records: &[Record]) -> Clock {
        let t0_fixed = last.and_then(|h| DateTime::parse_from_rfc3339(&h.t0).ok());
        // Instants are journaled to the microsecond; T0 may carry nanoseconds: they are
        // cut, or an offset would read a microsecond short (T+00:01:59.999).
        let t0 = t0_fixed.map(|t| {
            let t = t.to_utc();
            t - TimeDelta::nanoseconds(i64::from(t.timestamp_subsec_nanos() % 1000))
        });
        let mut moves = Vec::new();
        let mut holds: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = Vec::new();
        // What an undo takes back, as the engine keeps it: the clock's actions, skips.
        enum Undoable {
            Hold,
            Resume,
            Shift,
            Other,
        }
        let mut undoable: Vec<Undoable> = Vec::new();
        for r in records {
            let Record::Event(Event::Control {
                at,
                action,
                moved_ms,
                ..
            }) = r
            else {
                continue;
            };
            match action {
                Action::Hold => {
                    holds.push((*at, None));
                    undoable.push(Undoable::Hold);
                }
                Action::Resume => {
                    if let Some(h) = holds.last_mut().filter(|h| h.1.is_none()) {
                        h.1 = Some(*at);
                    }
                    moves.push((*at, moved_ms.unwrap_or(0)));
                    undoable.push(Undoable::Resume);
                }
                Action::Shift(_) => {
                    moves.push((*at, moved_ms.unwrap_or(0)));
                    undoable.push(Undoable::Shift);
                }
                Action::Skip(_) | Action::Unskip(_) => undoable.push(Undoable::Other),
                // An undone hold was never one; an undone release holds again; an
                // undone shift moved nothing.
                Action::Undo { judgment: None, .. } => match undoable.pop() {
                    Some(Undoable::Hold) => {
                        holds.pop();
                    }
                    Some(Undoable::Resume) => {
                        if let Some(h) = holds.last_mut() {
                            h.1 = None;
                        }
                        moves.pop();
                    }
                    Some(Undoable::Shift) => {
                        moves.pop();
                    }
                    Some(Undoable::Other) | None => {}
                },
                _ => {}
            }
        }
        Clock {
            t0,
            tz: last
                .and_then(|h| h.timezone.as_deref())
                .and_then(|z| z.parse().ok()),
            offset: t0_fixed.map_or(FixedOffset::east_opt(0).expect("zero"), |t| *t.offset()),
            speed: last.and_then(|h| h.speed).unwrap_or(1.0),
            moves,
            holds,
        }
    }

    /// The clocks of a plan: T0, its zone and speed; nothing held or shifted yet.
    pub fn planned(t0: DateTime<FixedOffset>, tz: Option<Tz>, speed: f64) -> Clock {
        Clock {
            t0: Some(t0.to_utc()),
            tz,
            offset: *t0.offset(),
            speed,
            moves: Vec::new(),
            holds: Vec::new(),
        }
    }

    /// The zone's name: `Europe/London`, else T0's offset (`+01:00`).
    pub fn zone(&self) -> String {
        self.tz
            .map_or_else(|| self.offset.to_string(), |z| z.name().to_string())
    }

    /// `t` in the scenario's zone to the second: `09:02:07 GMT`, with the date when it is
    /// not T0's day (`2026-03-29 00:10:00 GMT`).
    pub fn local(&self, t: DateTime<Utc>) -> String {
        let (text, day) = match self.tz {
            Some(z) => {
                let l = t.with_timezone(&z);
                (l.format("%H:%M:%S %Z").to_string(), l.date_naive())
            }
            None => {
                let l = t.with_timezone(&self.offset);
                (l.format("%H:%M:%S %:z").to_string(), l.date_naive())
            }
        };
        let t0_day = self.t0.map(|t0| match self.tz {
            Some(z) => t0.with_timezone(&z).date_naive(),
            None => t0.with_timezone(&self.offset).date_naive(),
        });
        if t0_day.is_none_or(|d| d == day) {
            text
        } else {
            format!("{} {text}", day.format("%Y-%m-%d"))
        }
    }

    /// `t` in the scenario's zone with its date: `2026-03-28 09:00:00 GMT`.
    pub fn local_full(&self, t: DateTime<Utc>) -> String {
        match self.tz {
            Some(z) => t
                .with_timezone(&z)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string(),
            None => t
                .with_timezone(&self.offset)
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string(),
        }
    }

    /// Scenario milliseconds at wall instant `t`: still while held, less every move
    /// made before it, times the speed.
    pub fn scenario_ms(&self, t: DateTime<Utc>) -> Option<i64> {
        let t0 = self.t0?;
        let t = self
            .holds
            .iter()
            .find(|(from, until)| *from <= t && until.is_none_or(|u| t < u))
            .map_or(t, |(from, _)| *from);
        let moved: i64 = self
            .moves
            .iter()
            .filter(|(at, _)| *at <= t)
            .map(|(_, ms)| ms)
            .sum();
        let wall = (t - t0).num_milliseconds() - moved;
        Some((wall as f64 * self.speed).round() as i64)
    }

    /// `T+01:30:00` of a scenario time in milliseconds (`T+00:00:00` before T0), with
    /// milliseconds when not whole seconds.
    pub fn t_plus_ms(ms: i64) -> String {
        crate::human::show_offset(std::time::Duration::from_millis(
            u64::try_from(ms.max(0)).unwrap_or(0),
        ))
    }

    /// `T+01:30:07`: the scenario time of wall instant `t`, to the second.
    pub fn t_plus(&self, t: DateTime<Utc>) -> Option<String> {
        self.scenario_ms(t)
            .map(|ms| Clock::t_plus_ms((ms + 500).div_euclid(1000) * 1000))
    }

    /// A wall-clock span as scenario time (times the speed).
    pub fn scaled(&self, wall_ms: i64) -> i64 {
        (wall_ms as f64 * self.speed).round() as i64
    }

    /// The exercise time from `a` to `b` (`a` before `b`): the wall-clock span less the
    /// holds within it (the players were held too), as scenario time.
    pub fn exercise_ms(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
        let held: i64 = self
            .holds
            .iter()
            .map(|(from, until)| {
                let (from, until) = ((*from).max(a), until.unwrap_or(b).min(b));
                (until - from).num_milliseconds().max(0)
            })
            .sum();
        self.scaled(((b - a).num_milliseconds() - held).max(0))
    }
}

/// A lateness in people's units, with its sign: under a second in milliseconds (the
/// floor is a fraction of one: `+4.1 ms`), above as people write durations (`+11.7 s`,
/// `+3m 12s`, `-1m 48s`).
pub(super) fn lateness_text(ms: f64) -> String {
    let sign = if ms < 0.0 { "-" } else { "+" };
    if ms.abs() < 1000.0 {
        format!("{sign}{:.1} ms", ms.abs())
    } else {
        format!("{sign}{}", crate::human::duration_ms(ms.round() as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn scenario_time_stands_still_while_held_and_runs_at_speed() {
        let hold = Record::Event(Event::Control {
            at: at("2026-03-28T09:10:00Z"),
            action: Action::Hold,
            moved_ms: None,
            source: crate::action::Source::Command,
            by: None,
        });
        let resume = Record::Event(Event::Control {
            at: at("2026-03-28T09:15:00Z"),
            action: Action::Resume,
            moved_ms: Some(300_000),
            source: crate::action::Source::Command,
            by: None,
        });
        let mut c = Clock::of(None, &[hold, resume]);
        c.t0 = Some(at("2026-03-28T09:00:00Z"));
        // A response across the hold counts the exercise's time, not the hold's.
        assert_eq!(
            c.exercise_ms(at("2026-03-28T09:08:00Z"), at("2026-03-28T09:18:00Z")),
            300_000
        );
        assert_eq!(
            c.exercise_ms(at("2026-03-28T09:12:00Z"), at("2026-03-28T09:13:00Z")),
            0
        );
        assert_eq!(
            c.t_plus(at("2026-03-28T09:12:00Z")).as_deref(),
            Some("T+00:10:00")
        );
        assert_eq!(
            c.t_plus(at("2026-03-28T09:20:00Z")).as_deref(),
            Some("T+00:15:00")
        );
        c.speed = 3.0;
        assert_eq!(
            c.t_plus(at("2026-03-28T09:05:00Z")).as_deref(),
            Some("T+00:15:00")
        );
        assert_eq!(lateness_text(11_730.629), "+11.7 s");
        assert_eq!(lateness_text(4.071), "+4.1 ms");
        assert_eq!(lateness_text(-108_000.0), "-1m 48s");
    }
}
