//! The objectives: what exercised each (injects sent, expected actions judged), the
//! evaluators' ratings (the latest of each stands, earlier ones are history), the notes
//! tagged with it; and the improvement plan.

use super::{Expected, Improvement, Note, ObjectiveReport, Rated, Row};
use crate::journal::ObjectiveRow;

/// Each objective as the report shows it.
pub(super) fn objectives(
    declared: &[ObjectiveRow],
    rows: &[Row],
    expectations: &[Expected],
    notes: &[Note],
) -> Vec<ObjectiveReport> {
    declared
        .iter()
        .map(|o| {
            let mine: Vec<&Row> = rows
                .iter()
                .filter(|r| o.injects.contains(&r.inject))
                .collect();
            ObjectiveReport {
                id: o.id.clone(),
                text: o.text.clone(),
                capability: o.capability.clone(),
                injects: mine
                    .iter()
                    .map(|r| format!("{} {}", r.key, r.status))
                    .collect(),
                sent: mine.iter().filter(|r| r.status == "sent").count(),
                planned: mine.len(),
                expectations: expectations
                    .iter()
                    .filter(|x| o.expectations.contains(&x.id) || x.objectives.contains(&o.id))
                    .map(|x| {
                        let response = x
                            .response
                            .as_deref()
                            .map_or(String::new(), |r| format!(", response {r}"));
                        format!("{} {}{response}", x.id, x.outcome.word())
                    })
                    .collect(),
                ratings: ratings(&o.id, notes),
                notes: notes
                    .iter()
                    .filter(|n| n.rating.is_none() && n.objectives.contains(&o.id))
                    .map(|n| {
                        format!(
                            "{}{} ({})",
                            n.tag.map_or(String::new(), |t| format!("[{t}] ")),
                            n.text,
                            n.by.as_deref().unwrap_or(&n.source)
                        )
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The standing rating of each evaluator of objective `id` (their latest), with the
/// earlier ones as its history; in the order evaluators first rated.
fn ratings(id: &str, notes: &[Note]) -> Vec<Rated> {
    let mut out: Vec<Rated> = Vec::new();
    for n in notes {
        let Some(letter) = n.rating else { continue };
        if !n.objectives.iter().any(|o| o == id) {
            continue;
        }
        let by = n.by.clone().unwrap_or_else(|| n.source.clone());
        let rating = crate::action::Rating::parse(letter).ok();
        let rated = Rated {
            by: by.clone(),
            rating: letter,
            words: rating.map_or("", crate::action::Rating::words),
            note: Some(n.text.clone()).filter(|t| !t.is_empty()),
            at: n.local.clone(),
            at_utc: n.at.clone(),
            history: Vec::new(),
        };
        match out.iter_mut().find(|r| r.by == by) {
            Some(before) => {
                let mut history = std::mem::take(&mut before.history);
                history.push(format!(
                    "{} at {}{}",
                    before.rating,
                    before.at,
                    before
                        .note
                        .as_deref()
                        .map_or(String::new(), |n| format!(": {n}"))
                ));
                *before = Rated { history, ..rated };
            }
            None => out.push(rated),
        }
    }
    out
}

/// The improvement plan: each `improvement` note on an objective, with the objective's
/// capability and standing ratings; an objective rated M or U with no such note gets a
/// row that says so.
pub(super) fn improvement_plan(objectives: &[ObjectiveReport], notes: &[Note]) -> Vec<Improvement> {
    let mut out = Vec::new();
    for o in objectives {
        let rating = o
            .ratings
            .iter()
            .map(|r| format!("{} ({})", r.rating, r.by))
            .collect::<Vec<_>>()
            .join(", ");
        let areas: Vec<&Note> = notes
            .iter()
            .filter(|n| n.tag == Some("improvement") && n.objectives.contains(&o.id))
            .collect();
        for n in &areas {
            out.push(Improvement {
                objective: Some(o.id.clone()),
                capability: o.capability.clone(),
                area: n.text.clone(),
                by: n.by.clone(),
                rating: rating.clone(),
            });
        }
        if areas.is_empty() && o.ratings.iter().any(|r| matches!(r.rating, "M" | "U")) {
            out.push(Improvement {
                objective: Some(o.id.clone()),
                capability: o.capability.clone(),
                area: "(rated M or U; no area for improvement noted)".into(),
                by: None,
                rating,
            });
        }
    }
    // An area for improvement noted without an objective is still one.
    for n in notes
        .iter()
        .filter(|n| n.tag == Some("improvement") && n.objectives.is_empty())
    {
        out.push(Improvement {
            objective: None,
            capability: None,
            area: n.text.clone(),
            by: n.by.clone(),
            rating: String::new(),
        });
    }
    out
}
