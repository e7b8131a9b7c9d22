//! The live actions on a running exercise: one typed set for every surface.
//!
//! The engine carries them out; the control API and `ctl` send them (a path and a JSON
//! body, [`Action::request_body`] and [`Action::from_request`]); the terminal keys make
//! them; the journal records them (by name, read back with [`Action::from_parts`]); the report shows them. Nothing here touches the schedule.

use serde_json::{Value, json};

/// A live action.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Stop the clock: nothing fires until resumed (in-flight sends finish).
    Hold,
    /// Restart the clock; every occurrence not yet fired moves later by the hold's length.
    Resume,
    /// Skip an occurrence key, or every occurrence of an inject id.
    Skip(String),
    /// Undo a skip before it fires.
    Unskip(String),
    /// Send an occurrence at once (also while held); its slot then does nothing.
    Fire(String),
    /// Send a failed occurrence again, at once (once per failure).
    Retry(String),
    /// Move every occurrence not yet fired by this many milliseconds (negative: earlier).
    Shift(i64),
    /// Judge an expected action met (its id), with an optional note. The first
    /// judgment stands; a later one is kept as a note.
    Met(String, Option<String>),
    /// Judge an expected action missed, with an optional note.
    Missed(String, Option<String>),
    /// An observation for the after-action report, about an occurrence key or an
    /// expected action if given, tagged with objectives and as a strength or an area for
    /// improvement. Journaled as a `note` line; steers nothing.
    Note {
        text: String,
        key: Option<String>,
        expectation: Option<String>,
        objectives: Vec<String>,
        tag: Option<NoteTag>,
    },
    /// An evaluator's rating of an objective (HSEEP's P, S, M, U), with an optional
    /// note. Journaled as a `note` line with its rating; the latest of each evaluator
    /// stands. Steers nothing.
    Rate {
        objective: String,
        rating: Rating,
        note: Option<String>,
    },
    /// Send an inject written during the run (`inject`: its YAML, the shape of one of
    /// the scenario's `injects:`; `file`: where it came from, for its problems), now or
    /// at the time it gives. Journaled as an `adhoc` line, the inject whole.
    Send { inject: String, file: String },
    /// Amend an occurrence not yet sent (`key`): `fields`, the fields to change in the
    /// scenario's shape (`at:`/`in:` for its instant); `file`, where they came from.
    /// Journaled as an `amended` line.
    Amend {
        key: String,
        fields: String,
        file: String,
    },
    /// Apply a changed scenario to the running exercise (`text`, read from `file`):
    /// every change to an occurrence not yet gone (added, removed, moved, changed,
    /// conditions and expected actions included) is applied; changes to what went are
    /// listed and left. Journaled as an `applied` line, the text whole.
    Apply { file: String, text: String },
    /// End the exercise now: nothing more fires (in-flight sends finish); a resume can
    /// take it up again.
    End,
    /// Revert the last clock action (hold, resume, shift), skip, unskip or judgment, while
    /// nothing it caused has gone out. Journaled with what it undid in words (`what`)
    /// and, for a judgment, which (`met:ID` or `missed:ID`, the journal's `key`).
    Undo {
        what: Option<String>,
        judgment: Option<String>,
    },
}

/// An objective's rating, as HSEEP's evaluators give it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Rating {
    /// Performed without challenges.
    P,
    /// Performed with some challenges.
    S,
    /// Performed with major challenges.
    M,
    /// Unable to be performed.
    U,
}

impl Rating {
    pub const ALL: [Rating; 4] = [Rating::P, Rating::S, Rating::M, Rating::U];

    /// Its letter: `P`, `S`, `M` or `U`.
    pub fn letter(self) -> &'static str {
        match self {
            Rating::P => "P",
            Rating::S => "S",
            Rating::M => "M",
            Rating::U => "U",
        }
    }

    /// What it means, in HSEEP's words.
    pub fn words(self) -> &'static str {
        match self {
            Rating::P => "performed without challenges",
            Rating::S => "performed with some challenges",
            Rating::M => "performed with major challenges",
            Rating::U => "unable to be performed",
        }
    }

    /// A rating as a person writes it: its letter, either case.
    pub fn parse(text: &str) -> Result<Rating, String> {
        match text.trim().to_ascii_uppercase().as_str() {
            "P" => Ok(Rating::P),
            "S" => Ok(Rating::S),
            "M" => Ok(Rating::M),
            "U" => Ok(Rating::U),
            _ => Err(format!(
                "`{text}` is not a rating: give P (performed without challenges), S (with some challenges), M (with major challenges) or U (unable to be performed)"
            )),
        }
    }
}

/// What a note says of the objectives it names: a strength, or an area for improvement
/// (the improvement plan's rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteTag {
    Strength,
    Improvement,
}

impl NoteTag {
    pub fn name(self) -> &'static str {
        match self {
            NoteTag::Strength => "strength",
            NoteTag::Improvement => "improvement",
        }
    }

    fn parse(text: &str) -> Result<NoteTag, String> {
        match text.trim() {
            "strength" => Ok(NoteTag::Strength),
            "improvement" => Ok(NoteTag::Improvement),
            other => Err(format!(
                "`{other}` is not a note's tag: give `strength` or `improvement`"
            )),
        }
    }
}

/// Where an action came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A key in the terminal view.
    Terminal,
    /// A button on the control page.
    Page,
    /// `injector ctl`, or any other client of the control API.
    Command,
    /// `run --dry-run --assume`: a judgment the rehearsal makes by itself.
    Assumed,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Terminal => "terminal",
            Source::Page => "page",
            Source::Command => "command",
            Source::Assumed => "assumed",
        }
    }

    /// The source a request names (`x-injector-source`); anything else is a command.
    pub fn from_header(value: Option<&str>) -> Source {
        match value {
            Some("terminal") => Source::Terminal,
            Some("page") => Source::Page,
            _ => Source::Command,
        }
    }
}

impl Action {
    /// Its name: the journal's `action`, the control API's path, `ctl`'s subcommand.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Hold => "hold",
            Action::Resume => "resume",
            Action::Skip(_) => "skip",
            Action::Unskip(_) => "unskip",
            Action::Fire(_) => "fire",
            Action::Retry(_) => "retry",
            Action::Shift(_) => "shift",
            Action::Met(..) => "met",
            Action::Missed(..) => "missed",
            Action::Note { .. } => "note",
            Action::Rate { .. } => "rate",
            Action::End => "end",
            Action::Undo { .. } => "undo",
            Action::Send { .. } => "send",
            Action::Amend { .. } => "amend",
            Action::Apply { .. } => "apply",
        }
    }

    /// An undo as a person asks for it: of whatever was done last.
    pub fn undo() -> Action {
        Action::Undo {
            what: None,
            judgment: None,
        }
    }

    /// Every action's name, as [`Action::name`] gives it.
    pub const NAMES: &[&str] = &[
        "hold", "resume", "skip", "unskip", "fire", "retry", "shift", "met", "missed", "note",
        "rate", "end", "undo", "send", "amend", "apply",
    ];

    /// The note a judgment carries (for an undo, what it undid).
    pub fn note(&self) -> Option<&str> {
        match self {
            Action::Met(_, note) | Action::Missed(_, note) | Action::Rate { note, .. } => {
                note.as_deref()
            }
            Action::Undo { what, .. } => what.as_deref(),
            _ => None,
        }
    }

    /// The occurrence key or inject id it names, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            Action::Skip(k) | Action::Unskip(k) | Action::Fire(k) | Action::Retry(k) => Some(k),
            Action::Met(id, _) | Action::Missed(id, _) => Some(id),
            Action::Note { key, .. } => key.as_deref(),
            Action::Rate { objective, .. } => Some(objective),
            Action::Undo { judgment, .. } => judgment.as_deref(),
            Action::End | Action::Send { .. } | Action::Apply { .. } => None,
            Action::Amend { key, .. } => Some(key),
            Action::Hold | Action::Resume | Action::Shift(_) => None,
        }
    }

    /// The JSON body of its control API request (`POST /api/<name>`).
    pub fn request_body(&self) -> Value {
        match self {
            Action::Hold | Action::Resume => json!({}),
            Action::Skip(k) | Action::Unskip(k) | Action::Fire(k) | Action::Retry(k) => {
                json!({ "key": k })
            }
            Action::Shift(ms) => json!({ "by": format!("{ms}ms") }),
            Action::Met(id, note) | Action::Missed(id, note) => match note {
                Some(n) => json!({ "key": id, "note": n }),
                None => json!({ "key": id }),
            },
            Action::Note {
                text,
                key,
                expectation,
                objectives,
                tag,
            } => {
                let mut body = json!({ "text": text });
                if let Some(k) = key {
                    body["key"] = json!(k);
                }
                if let Some(e) = expectation {
                    body["expectation"] = json!(e);
                }
                if !objectives.is_empty() {
                    body["objectives"] = json!(objectives);
                }
                if let Some(t) = tag {
                    body["tag"] = json!(t.name());
                }
                body
            }
            Action::Rate {
                objective,
                rating,
                note,
            } => match note {
                Some(n) => json!({ "key": objective, "rating": rating.letter(), "note": n }),
                None => json!({ "key": objective, "rating": rating.letter() }),
            },
            Action::End | Action::Undo { .. } => json!({}),
            Action::Send { inject, file } => json!({ "inject": inject, "file": file }),
            Action::Amend { key, fields, file } => {
                json!({ "key": key, "fields": fields, "file": file })
            }
            Action::Apply { file, text } => json!({ "file": file, "text": text }),
        }
    }

    /// The action a control API request names: its path's last part and its JSON body.
    pub fn from_request(name: &str, body: &Value) -> Result<Action, String> {
        let key = || {
            body.get("key")
                .and_then(Value::as_str)
                .map(String::from)
                .ok_or("a `key` is required".to_string())
        };
        match name {
            "hold" => Ok(Action::Hold),
            "resume" => Ok(Action::Resume),
            "end" => Ok(Action::End),
            "undo" => Ok(Action::undo()),
            "note" => {
                let text = match body.get("text") {
                    Some(Value::String(t)) if !t.trim().is_empty() => t.trim().to_string(),
                    _ => return Err("a note needs its `text`".into()),
                };
                if text.chars().count() > MAX_NOTE {
                    return Err(format!("a note is at most {MAX_NOTE} characters"));
                }
                let opt = |field: &str| match body.get(field) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
                    Some(_) => Err(format!("`{field}` must be text")),
                };
                let objectives = match body.get("objectives") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|i| {
                            i.as_str()
                                .map(|s| s.trim().to_string())
                                .filter(|s| !s.is_empty())
                                .ok_or("`objectives` lists objective ids".to_string())
                        })
                        .collect::<Result<_, _>>()?,
                    Some(_) => return Err("`objectives` must be a list of objective ids".into()),
                };
                Ok(Action::Note {
                    text,
                    key: opt("key")?,
                    expectation: opt("expectation")?,
                    objectives,
                    tag: opt("tag")?.as_deref().map(NoteTag::parse).transpose()?,
                })
            }
            "rate" => {
                let rating = match body.get("rating") {
                    Some(Value::String(r)) => Rating::parse(r)?,
                    _ => return Err("a rating needs its `rating`: P, S, M or U".into()),
                };
                Ok(Action::Rate {
                    objective: key()?,
                    rating,
                    note: judgment_note(body)?,
                })
            }
            "send" => {
                let inject = match body.get("inject") {
                    Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
                    _ => return Err("an ad hoc inject needs its `inject`: its YAML".into()),
                };
                if inject.len() > MAX_INJECT {
                    return Err(format!(
                        "an ad hoc inject is at most {} KiB of YAML",
                        MAX_INJECT / 1024
                    ));
                }
                let file = match body.get("file") {
                    Some(Value::String(f)) if !f.trim().is_empty() => f.trim().to_string(),
                    _ => "(ad hoc)".to_string(),
                };
                Ok(Action::Send { inject, file })
            }
            "amend" => {
                let fields = match body.get("fields") {
                    Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
                    _ => {
                        return Err(
                            "an amendment needs its `fields`: the fields to change, as YAML".into(),
                        );
                    }
                };
                if fields.len() > MAX_INJECT {
                    return Err(format!(
                        "an amendment is at most {} KiB of YAML",
                        MAX_INJECT / 1024
                    ));
                }
                let file = match body.get("file") {
                    Some(Value::String(f)) if !f.trim().is_empty() => f.trim().to_string(),
                    _ => "(amendment)".to_string(),
                };
                Ok(Action::Amend {
                    key: key()?,
                    fields,
                    file,
                })
            }
            "apply" => {
                let text = match body.get("text") {
                    Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
                    _ => return Err("an apply needs its `text`: the scenario's YAML".into()),
                };
                if text.len() > MAX_APPLIED {
                    return Err(format!(
                        "a scenario to apply is at most {} MiB of YAML",
                        MAX_APPLIED / 1024 / 1024
                    ));
                }
                let file = match body.get("file") {
                    Some(Value::String(f)) if !f.trim().is_empty() => f.trim().to_string(),
                    _ => "(applied)".to_string(),
                };
                Ok(Action::Apply { file, text })
            }
            "skip" => key().map(Action::Skip),
            "unskip" => key().map(Action::Unskip),
            "fire" => key().map(Action::Fire),
            "retry" => key().map(Action::Retry),
            "met" | "missed" => {
                let note = judgment_note(body)?;
                let id = key()?;
                Ok(if name == "met" {
                    Action::Met(id, note)
                } else {
                    Action::Missed(id, note)
                })
            }
            "shift" => match body.get("by").and_then(Value::as_str) {
                Some(by) => parse_shift(by).map(Action::Shift),
                None => Err("a `by` duration is required, e.g. \"5m\" or \"-5m\"".into()),
            },
            other => Err(format!("unknown action `{other}`")),
        }
    }

    /// An action read back from the journal's fields (name, key, for a shift its
    /// milliseconds, for a judgment its note); `None` for a name it does not know or a
    /// key it lacks.
    pub fn from_parts(
        name: &str,
        key: Option<&str>,
        by_ms: Option<i64>,
        note: Option<&str>,
    ) -> Option<Action> {
        let key = || key.map(String::from);
        let note = note.map(String::from);
        Some(match name {
            "hold" => Action::Hold,
            "resume" => Action::Resume,
            "end" => Action::End,
            "undo" => Action::Undo {
                what: note,
                judgment: key(),
            },
            "skip" => Action::Skip(key()?),
            "unskip" => Action::Unskip(key()?),
            "fire" => Action::Fire(key()?),
            "retry" => Action::Retry(key()?),
            "met" => Action::Met(key()?, note),
            "missed" => Action::Missed(key()?, note),
            "shift" => match by_ms {
                None => Action::Shift(0),
                Some(ms) if move_in_range(ms) => Action::Shift(ms),
                Some(_) => return None,
            },
            _ => return None,
        })
    }
}

/// The `note` of a judgment's or a rating's request: optional text, at most
/// [`MAX_NOTE`] characters.
fn judgment_note(body: &Value) -> Result<Option<String>, String> {
    match body.get("note") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(n)) if n.trim().is_empty() => Ok(None),
        Some(Value::String(n)) if n.chars().count() > MAX_NOTE => {
            Err(format!("a note is at most {MAX_NOTE} characters"))
        }
        Some(Value::String(n)) => Ok(Some(n.trim().to_string())),
        Some(_) => Err("`note` must be text".into()),
    }
}

/// Whether occurrence `key` is of inject `id`: `ID`, `ID#N`, `ID@TEAM`, `ID#N@TEAM`.
/// Whether occurrence `key` is of a contingency's part: `ID`, or one team's of it,
/// `ID@TEAM` (its occurrences `ID@TEAM`, `ID#N@TEAM`).
pub fn of_part(key: &str, part: &str) -> bool {
    match part.split_once('@') {
        Some((id, team)) => {
            of_inject(key, id) && key.rsplit_once('@').is_some_and(|(_, t)| t == team)
        }
        None => of_inject(key, part),
    }
}

pub fn of_inject(key: &str, id: &str) -> bool {
    key.strip_prefix(id)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('#') || rest.starts_with('@'))
}

/// The largest ad hoc inject, in bytes of YAML.
pub const MAX_INJECT: usize = 64 * 1024;
/// The largest scenario `apply` takes over the control endpoint.
pub const MAX_APPLIED: usize = 16 * 1024 * 1024;

/// The longest note a judgment may carry, in characters.
pub const MAX_NOTE: usize = 2000;

/// The most a run's timeline may be moved, by one shift or by all holds and shifts
/// together: a year. Anything further is a typo, and would take instants out of range.
pub const MAX_MOVE_MS: i64 = 366 * 24 * 3600 * 1000;

/// A shift as a person writes it: a duration, `-` for earlier (`5m`, `-90s`), in ms;
/// at most [`MAX_MOVE_MS`] either way.
pub fn parse_shift(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let (sign, rest) = match t.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    if !rest.trim().is_empty() && rest.trim().bytes().all(|b| b.is_ascii_digit()) {
        let n = rest.trim();
        return Err(format!(
            "`{text}` has no unit: write {n}m for {n} minutes (or {n}s, {n}h)"
        ));
    }
    if let Some(slip) = crate::human::unit_slip(rest) {
        return Err(format!("`{text}`: {slip}"));
    }
    let d = humantime::parse_duration(rest.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}); write e.g. 5m or -5m"))?;
    match i64::try_from(d.as_millis()) {
        Ok(ms) if ms <= MAX_MOVE_MS => Ok(sign * ms),
        _ => Err(format!(
            "`{text}` is more than a shift can be (at most 366 days either way)"
        )),
    }
}

/// Whether `ms` is a move a journal may hold (a shift, or a hold's length).
pub fn move_in_range(ms: i64) -> bool {
    (-MAX_MOVE_MS..=MAX_MOVE_MS).contains(&ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_goes_through_the_api_and_the_journal_unchanged() {
        let all = [
            Action::Hold,
            Action::Resume,
            Action::Skip("a#2".into()),
            Action::Unskip("a".into()),
            Action::Fire("b@red".into()),
            Action::Retry("c#2".into()),
            Action::Shift(-300_000),
            Action::Met("evacuation-ordered".into(), None),
            Action::Missed("shelters".into(), Some("no word from red cell".into())),
            Action::End,
            Action::undo(),
            Action::Undo {
                what: Some("the judgment of e0 (met, by dana)".into()),
                judgment: Some("met:e0".into()),
            },
        ];
        // Every action is named in NAMES (the page offers what a role may from it).
        for a in &all {
            assert!(Action::NAMES.contains(&a.name()), "{} in NAMES", a.name());
        }
        for a in all {
            // What an undo undid is the engine's to say: a request asks for the undo alone.
            let asked = match &a {
                Action::Undo { .. } => Action::undo(),
                other => other.clone(),
            };
            assert_eq!(Action::from_request(a.name(), &a.request_body()), Ok(asked));
            let by = if let Action::Shift(ms) = a {
                Some(ms)
            } else {
                None
            };
            assert_eq!(
                Action::from_parts(a.name(), a.key(), by, a.note()),
                Some(a.clone())
            );
        }
        assert!(Action::from_request("skip", &json!({})).is_err());
        assert!(Action::from_request("explode", &json!({})).is_err());
        assert_eq!(Action::from_parts("skip", None, None, None), None);
        let note = Action::Note {
            text: "Blue cell argues about who calls the police".into(),
            key: Some("evac-call".into()),
            expectation: None,
            objectives: vec!["O2".into()],
            tag: Some(NoteTag::Improvement),
        };
        assert_eq!(Action::from_request("note", &note.request_body()), Ok(note));
        let rate = Action::Rate {
            objective: "O1".into(),
            rating: Rating::S,
            note: Some("warning went out 4 minutes late".into()),
        };
        assert_eq!(Action::from_request("rate", &rate.request_body()), Ok(rate));
        let bad = Action::from_request("rate", &json!({"key": "O1", "rating": "B"})).unwrap_err();
        assert!(bad.contains("P (performed without challenges)"), "{bad}");
        assert!(Action::from_request("rate", &json!({"key": "O1"})).is_err());
        assert!(
            Action::from_request("note", &json!({"text": "t", "tag": "weakness"}))
                .unwrap_err()
                .contains("`strength` or `improvement`")
        );
        assert!(Action::from_request("note", &json!({"text": " "})).is_err());
        for name in Action::NAMES {
            let a = Action::from_request(
                name,
                &json!({"key": "k", "by": "1s", "text": "t", "rating": "p", "inject": "body: x", "fields": "body: y"}),
            )
            .unwrap();
            assert_eq!(a.name(), *name);
        }
        assert!(Action::from_request("met", &json!({"key": "a", "note": 5})).is_err());
        assert!(
            Action::from_request(
                "met",
                &json!({"key": "a", "note": "x".repeat(MAX_NOTE + 1)})
            )
            .is_err()
        );
    }

    #[test]
    fn shifts() {
        assert_eq!(parse_shift("5m"), Ok(300_000));
        assert_eq!(parse_shift("-90s"), Ok(-90_000));
        assert_eq!(parse_shift("+1h"), Ok(3_600_000));
        assert!(parse_shift("later").is_err());
        assert!(parse_shift("300000y").is_err());
        // `M` is humantime's months: a slip for minutes, refused with the way to say it.
        let months = parse_shift("5M").unwrap_err();
        assert!(
            months.contains("`M` is not a unit") && months.contains("5m is 5 minutes"),
            "{months}"
        );
        assert!(parse_shift("2months").is_err());
        assert_eq!(parse_shift("1h 30m"), Ok(5_400_000));
        assert_eq!(parse_shift("90sec"), Ok(90_000));
        assert!(parse_shift("-367d").is_err());
        assert_eq!(parse_shift("-366d"), Ok(-MAX_MOVE_MS));
        assert_eq!(
            Action::from_parts("shift", None, Some(i64::MAX), None),
            None
        );
    }
}
