//! The body of Conducttr's `POST /messages`, and the contract it must meet.
//!
//! [`check`] applies the API's rules to a JSON body exactly as it goes on the wire. The
//! same function judges a scenario's occurrences in `validate` (whose findings are then
//! mapped back to YAML positions) and every request the stand-in server receives, so the
//! two can never disagree. It knows nothing of YAML, aliases or templates.
//!
//! The checks themselves are `checks`; here are the contract's words and what a body
//! is: its endpoint, its recipient, its subject.

use serde_json::{Map, Value};

mod checks;

pub use checks::{Violation, check, check_at, is_email, is_http_url};

/// Channel identifiers listed in Conducttr's documentation.
pub const DOCUMENTED_CHANNELS: &[&str] = &[
    "microblog",
    "gosocial",
    "gosocialgroups",
    "mediablog",
    "news",
    "videoblog",
    "forum",
    "bulletin",
    "panda",
    "bearsocial",
    "telegraph",
    "msngr",
    "mail",
    "socialmap",
    "social-watch",
    "websites",
    "ticketing-system",
    "browser",
    "notifications",
    "captions",
    "graph",
    "log",
    "checklist",
    "portal",
    "tv",
    "map",
    "blog",
    "backchannel",
    "teamchat",
    "timer",
    "messenger",
    "log2",
];

/// The body fields the API documents (plus `team_id` and `ts`, which its examples use).
pub const BODY_FIELDS: &[&str] = &[
    "persona",
    "channel",
    "subject",
    "body",
    "to",
    "cc",
    "bcc",
    "title",
    "subtitle",
    "assets",
    "sentiment",
    "type",
    "team_id",
    "player_email",
    "isDraft",
    "replies",
    "likes",
    "reposts",
    "is_hacked",
    "show_details",
    "hacked_image",
    "ts",
    "position",
    "role",
];

/// The roles `POST /messages/role` takes.
pub const ROLES: &[&str] = &["Role1", "Role2", "Role3", "Role4", "Role5"];

/// Which of Conducttr's four messaging endpoints a body goes to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// `POST /messages`: to a team or a player.
    #[default]
    Messages,
    /// `POST /messages/position`: to the player who holds a position (`CEO`).
    Position,
    /// `POST /messages/role`: to the players in a role (`Role1`…`Role5`).
    Role,
    /// `POST /messages/gps`: not a message but a move of a persona on the map.
    Gps,
}

impl Endpoint {
    pub const ALL: [Endpoint; 4] = [
        Endpoint::Messages,
        Endpoint::Position,
        Endpoint::Role,
        Endpoint::Gps,
    ];

    /// Its path after the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Messages => "/messages",
            Endpoint::Position => "/messages/position",
            Endpoint::Role => "/messages/role",
            Endpoint::Gps => "/messages/gps",
        }
    }
}

/// The endpoint a body is for: a move carries coordinates, a position or role message
/// its `position` or `role`.
pub fn endpoint(body: &Map<String, Value>) -> Endpoint {
    if ["lat", "lon", "lng", "location"]
        .iter()
        .any(|f| body.contains_key(*f))
    {
        Endpoint::Gps
    } else if body.contains_key("position") {
        Endpoint::Position
    } else if body.contains_key("role") {
        Endpoint::Role
    } else {
        Endpoint::Messages
    }
}

/// Fields sent as integer flags `1`/`0`.
pub const FLAG_FIELDS: &[&str] = &["isDraft", "is_hacked", "show_details"];
/// Fields holding one or more comma-separated addresses.
pub const ADDRESS_LIST_FIELDS: &[&str] = &["cc", "bcc"];
pub const SENTIMENTS: &[&str] = &["positive", "negative", "neutral"];
pub const ASSET_TYPES: &[&str] = &["image", "video", "audio", "document"];
pub const RECIPIENT_TYPES: &[&str] = &["individual", "team"];

/// The fields a persona move carries.
pub const GPS_FIELDS: &[&str] = &[
    "persona", "lat", "lon", "lng", "location", "team_id", "type", "ts",
];

/// What a person knows a body by: its subject, else its title, else its text; a hack
/// without any, `[hack]` or `[restore]`.
pub fn subject(body: &Map<String, Value>) -> String {
    let text = ["subject", "title", "body"]
        .iter()
        .map(|f| field_text(body, f))
        .find(|t| !t.is_empty())
        .unwrap_or_default();
    if text.is_empty() && is_hack(body) {
        return if field_text(body, "is_hacked") == "1" {
            "[hack]".into()
        } else {
            "[restore]".into()
        };
    }
    text
}

/// [`subject`] on one line, at most 48 characters, for a table's cell.
pub fn short_subject(body: &Map<String, Value>) -> String {
    short(&subject(body))
}

/// A subject on one line, at most 48 characters.
pub fn short(subject: &str) -> String {
    let text = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 48 {
        format!("{}…", text.chars().take(47).collect::<String>())
    } else {
        text
    }
}

/// A body field as text: a string as it is, a missing or null field empty, any other
/// value as its JSON.
pub fn field_text(body: &Map<String, Value>, name: &str) -> String {
    match body.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// Who a message goes to, as its body says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// A team (`type: team`), by the id the body carries, as text.
    Team(String),
    /// A player, by `player_email`, else `to`.
    Player(String),
    /// The player holding a position.
    Position(String),
    /// The players in a role.
    Role(String),
    /// Not a message: a persona moves to this place.
    Move(String),
    /// The body names nobody.
    Nobody,
}

/// The one rule for who receives a body: `type: team` goes to its `team_id`; otherwise
/// `player_email`, else `to`, else a `team_id` if there is one.
pub fn recipient(body: &Map<String, Value>) -> Recipient {
    match endpoint(body) {
        Endpoint::Gps => return Recipient::Move(field_text(body, "location")),
        Endpoint::Position => return Recipient::Position(field_text(body, "position")),
        Endpoint::Role => return Recipient::Role(field_text(body, "role")),
        Endpoint::Messages => {}
    }
    let team = field_text(body, "team_id");
    if field_text(body, "type") == "team" && !team.is_empty() {
        return Recipient::Team(team);
    }
    for field in ["player_email", "to"] {
        let text = field_text(body, field);
        if !text.is_empty() {
            return Recipient::Player(text);
        }
    }
    if team.is_empty() {
        Recipient::Nobody
    } else {
        Recipient::Team(team)
    }
}

impl std::fmt::Display for Recipient {
    /// `team 3437866`, an address, or nothing.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recipient::Team(id) => write!(f, "team {id}"),
            Recipient::Player(to) => f.write_str(to),
            Recipient::Position(p) => write!(f, "position {p}"),
            Recipient::Role(r) => write!(f, "role {r}"),
            Recipient::Move(place) => write!(f, "move to {place}"),
            Recipient::Nobody => Ok(()),
        }
    }
}

/// A `team_id` as a number, whether the body wrote it as a number or a digit string.
pub fn team_number(id: &Value) -> Option<u64> {
    match id {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A body's fields looked up by a scan: a body has a dozen fields at most, and `check`
/// asks for about twenty, so comparing keys beats hashing each name (validating
/// 100,000 injects hashed two million of them).
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        if self.0.len() > 16 {
            return self.0.get(key);
        }
        self.0
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// Whether a body is a website hack (or its restore) rather than an article.
pub fn is_hack(body: &Map<String, Value>) -> bool {
    let body = Fields(body);
    ["is_hacked", "hacked_image", "show_details"]
        .iter()
        .any(|f| body.contains_key(f))
}

#[cfg(test)]
mod tests;
