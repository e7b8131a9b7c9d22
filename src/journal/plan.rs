//! The plan's rows as the run header lists them (and as an ad hoc inject's line lists
//! its occurrences): instant, channel, persona, recipient, subject and a digest of
//! offset and body, from one rendering of each body.

use sha2::Digest as _;

use super::PlanRow;
use crate::message;
use crate::timeline::{Occurrence, Timeline};

/// What one occurrence's rendering gives: its row, its body serialized (compact JSON;
/// `None` when it cannot be built), and its subject for people.
pub struct Rendered {
    pub row: PlanRow,
    pub body: Option<Vec<u8>>,
    pub short: String,
}

/// Rows of one timeline: the scenario's names for ids, found once.
pub struct Rows<'a> {
    t: &'a Timeline,
    max_speed: bool,
    persona_names: std::collections::HashMap<&'a str, &'a str>,
    team_names: std::collections::HashMap<String, &'a str>,
}

impl<'a> Rows<'a> {
    /// `max_speed`: the digest leaves `ts` out (it is the instant of the send).
    pub fn new(t: &'a Timeline, max_speed: bool) -> Rows<'a> {
        // The scenario's names for ids, for people: an alias before a handle.
        let mut persona_names: std::collections::HashMap<&str, &str> = Default::default();
        for (alias, id) in &t.scenario.personas {
            let slot = persona_names.entry(id.as_str()).or_insert(alias.as_str());
            if slot.starts_with('@') && !alias.starts_with('@') {
                *slot = alias.as_str();
            }
        }
        let team_names = t
            .scenario
            .teams
            .iter()
            .map(|(alias, id)| {
                (
                    id.as_str().map_or(id.to_string(), String::from),
                    alias.as_str(),
                )
            })
            .collect();
        Rows {
            t,
            max_speed,
            persona_names,
            team_names,
        }
    }

    /// One occurrence's row, body and subject.
    pub fn render(&self, o: &Occurrence) -> Rendered {
        let t = self.t;
        let built = t.body(o);
        let built_ok = built.is_ok();
        let mut body = built.unwrap_or_default();
        let recipient = message::recipient(&body);
        let to_name = match &recipient {
            message::Recipient::Team(id) => self.team_names.get(id).map(|n| n.to_string()),
            _ => None,
        };
        let to = recipient.to_string();
        // A persona move has no channel: its lane in the report is `gps`.
        let channel = match message::endpoint(&body) {
            message::Endpoint::Gps => "gps".to_string(),
            _ => message::field_text(&body, "channel"),
        };
        let persona = message::field_text(&body, "persona");
        let (subject, short) = if built_ok {
            let whole = message::subject(&body)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            (whole, message::short_subject(&body))
        } else {
            (String::new(), String::new())
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        // The digest of `offset|body`, without `ts` at --speed max.
        let mut digest = sha2::Sha256::new();
        digest.update(format!("{}|", o.offset.as_millis()));
        if self.max_speed && body.remove("ts").is_some() {
            digest.update(serde_json::to_vec(&body).unwrap_or_default());
        } else {
            digest.update(&json);
        }
        let row = PlanRow {
            key: o.key.clone(),
            planned_at: super::time_text(t.fire_at(o).to_utc()),
            channel,
            persona_name: self
                .persona_names
                .get(persona.as_str())
                .map(|n| n.to_string()),
            persona,
            to,
            to_name,
            digest: digest.finalize()[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            t_plus_ms: u64::try_from(o.offset.as_millis()).ok(),
            subject: Some(subject).filter(|s| !s.is_empty()),
            owner: t.scenario.injects[o.inject].owner.clone(),
        };
        Rendered {
            row,
            body: built_ok.then_some(json),
            short,
        }
    }
}
