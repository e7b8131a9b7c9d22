//! Two versions of a timeline compared occurrence by occurrence, by key.
//!
//! [`keys`] sorts keys into added, removed and changed from any fingerprint of each
//! occurrence: `run --resume` feeds it the digests its journal header kept (the old
//! scenario itself is gone by then), `injector diff` the resolved offsets and bodies of
//! both files, and then [`compare`] says how each changed one differs: moved (its offset)
//! and which body fields, old to new (a contingency's condition counts as a field,
//! `when`, and an inject's expected action as `expect`; a contingency's offset is from
//! the moment its condition holds). Nothing here reads files
//! or prints.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::timeline::Timeline;

/// Keys sorted by what happened to them between two versions.
#[derive(Debug, Default, PartialEq)]
pub struct Keys {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

/// Added, removed and changed keys, from each version's `(key, fingerprint)` pairs (in
/// order; the result keeps the new version's order, removed ones the old's).
pub fn keys<'a, F: PartialEq + 'a>(
    old: impl IntoIterator<Item = (&'a str, F)>,
    new: impl IntoIterator<Item = (&'a str, F)>,
) -> Keys {
    let old: Vec<(&str, F)> = old.into_iter().collect();
    let index: HashMap<&str, usize> = old.iter().enumerate().map(|(i, (k, _))| (*k, i)).collect();
    let mut seen = vec![false; old.len()];
    let mut out = Keys::default();
    for (key, print) in new {
        match index.get(key) {
            None => out.added.push(key.to_string()),
            Some(&i) => {
                seen[i] = true;
                if old[i].1 != print {
                    out.changed.push(key.to_string());
                }
            }
        }
    }
    out.removed = old
        .iter()
        .zip(&seen)
        .filter(|(_, seen)| !**seen)
        .map(|((k, _), _)| k.to_string())
        .collect();
    out
}

/// One body field that differs: its value before and after (`None`: absent).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Field {
    pub field: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// What happened to one occurrence.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Added {
        key: String,
        offset_ms: u64,
        /// A contingency's: its offset is its delay once its condition holds.
        #[serde(skip_serializing_if = "is_false")]
        contingent: bool,
    },
    Removed {
        key: String,
        offset_ms: u64,
        #[serde(skip_serializing_if = "is_false")]
        contingent: bool,
    },
    /// Moved (its offset), changed (its body), or both; for a contingency, its delay
    /// changed rather than moved.
    Changed {
        key: String,
        old_offset_ms: u64,
        new_offset_ms: u64,
        fields: Vec<Field>,
        #[serde(skip_serializing_if = "is_false")]
        contingent: bool,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Change {
    pub fn key(&self) -> &str {
        match self {
            Change::Added { key, .. }
            | Change::Removed { key, .. }
            | Change::Changed { key, .. } => key,
        }
    }

    /// Where it stands in the timeline: its new offset, or its old one when removed.
    fn offset_ms(&self) -> u64 {
        match self {
            Change::Added { offset_ms, .. } | Change::Removed { offset_ms, .. } => *offset_ms,
            Change::Changed { new_offset_ms, .. } => *new_offset_ms,
        }
    }
}

/// An occurrence as compared: its offset and its body as sent, less `ts` unless the
/// scenario pins it (else `ts` only repeats the offset).
struct Resolved {
    offset: Duration,
    body: Map<String, Value>,
    /// A contingency's: its offset counts from when its condition holds.
    contingent: bool,
}

fn resolved(t: &Timeline) -> Vec<(&str, Resolved)> {
    t.occurrences
        .iter()
        .map(|o| {
            let mut body = t.body(o).unwrap_or_default();
            if !t.ts_pinned(t.inject(o)) {
                body.remove("ts");
            }
            // A contingency's condition, as a field of its own (its offset counts from when
            // the condition holds): a changed condition shows as a changed `when`.
            if let Some(c) = &t.inject(o).condition {
                body.insert("when".into(), Value::String(c.condition.text()));
            }
            // Likewise its expected action: what, by when, whose.
            if let Some(e) = t.expectation_of(o) {
                let within = match e.deadline {
                    crate::scenario::Deadline::Within(d) | crate::scenario::Deadline::By(d) => d,
                };
                body.insert(
                    "expect".into(),
                    serde_json::json!({
                        "id": e.id,
                        "action": e.action,
                        "within": crate::human::duration_ms(within.as_millis() as i64),
                        "team": e.team.as_ref().map(|(t, _)| t),
                    }),
                );
            }
            (
                o.key.as_str(),
                Resolved {
                    offset: o.offset,
                    body,
                    contingent: t.is_contingent(o),
                },
            )
        })
        .collect()
}

impl PartialEq for Resolved {
    fn eq(&self, other: &Self) -> bool {
        self.offset == other.offset && self.body == other.body
    }
}

/// Every difference between `old` and `new`, in timeline order, limited to the keys
/// `only` accepts.
pub fn compare(old: &Timeline, new: &Timeline, only: &dyn Fn(&str) -> bool) -> Vec<Change> {
    let (before, after) = (resolved(old), resolved(new));
    let (before, after): (Vec<_>, Vec<_>) = (
        before.into_iter().filter(|(k, _)| only(k)).collect(),
        after.into_iter().filter(|(k, _)| only(k)).collect(),
    );
    let ms = |d: Duration| d.as_millis() as u64;
    let old_of: HashMap<&str, &Resolved> = before.iter().map(|(k, r)| (*k, r)).collect();
    let new_of: HashMap<&str, &Resolved> = after.iter().map(|(k, r)| (*k, r)).collect();
    let sorted = keys(
        before.iter().map(|(k, r)| (*k, r)),
        after.iter().map(|(k, r)| (*k, r)),
    );
    let mut changes: Vec<Change> = Vec::new();
    for key in sorted.added {
        let r = new_of[key.as_str()];
        let (offset_ms, contingent) = (ms(r.offset), r.contingent);
        changes.push(Change::Added {
            key,
            offset_ms,
            contingent,
        });
    }
    for key in sorted.removed {
        let r = old_of[key.as_str()];
        let (offset_ms, contingent) = (ms(r.offset), r.contingent);
        changes.push(Change::Removed {
            key,
            offset_ms,
            contingent,
        });
    }
    for key in sorted.changed {
        let (a, b) = (old_of[key.as_str()], new_of[key.as_str()]);
        let names: BTreeMap<&String, ()> = a
            .body
            .keys()
            .chain(b.body.keys())
            .map(|k| (k, ()))
            .collect();
        let fields = names
            .into_keys()
            .filter(|k| a.body.get(*k) != b.body.get(*k))
            .map(|k| Field {
                field: k.clone(),
                old: a.body.get(k).cloned(),
                new: b.body.get(k).cloned(),
            })
            .collect();
        changes.push(Change::Changed {
            key,
            old_offset_ms: ms(a.offset),
            new_offset_ms: ms(b.offset),
            fields,
            contingent: a.contingent && b.contingent,
        });
    }
    changes.sort_by(|a, b| {
        a.offset_ms()
            .cmp(&b.offset_ms())
            .then_with(|| a.key().cmp(b.key()))
    });
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_into_added_removed_and_changed() {
        let old = [("a", 1), ("b", 2), ("c", 3)];
        let new = [("a", 1), ("c", 4), ("d", 5)];
        assert_eq!(
            keys(old, new),
            Keys {
                added: vec!["d".into()],
                removed: vec!["b".into()],
                changed: vec!["c".into()],
            }
        );
    }
}
