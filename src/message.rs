//! The body of Conducttr's `POST /messages`, and the contract it must meet.
//!
//! [`check`] applies the API's rules to a JSON body exactly as it goes on the wire. The
//! same function judges a scenario's occurrences in `validate` (whose findings are then
//! mapped back to YAML positions) and every request the stand-in server receives, so the
//! two can never disagree. It knows nothing of YAML, aliases or templates.

use serde::Serialize;
use serde_json::{Map, Value};

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

/// One broken rule: the field it concerns and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub field: String,
    /// The field whose value calls for the rule, when `field` itself is absent
    /// (a `type: individual` that needs `to`): where a diagnostic should point.
    #[serde(skip)]
    pub cause: Option<&'static str>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Violation {
    fn new(field: &str, message: impl Into<String>, hint: Option<String>) -> Self {
        Violation {
            field: field.to_string(),
            cause: None,
            message: message.into(),
            hint,
        }
    }

    fn caused_by(mut self, field: &'static str) -> Self {
        self.cause = Some(field);
        self
    }
}

/// A body field as text: a string as it is, a missing or null field empty, any other
/// value as its JSON.
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
    let text = subject(body)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if text.chars().count() > 48 {
        format!("{}…", text.chars().take(47).collect::<String>())
    } else {
        text
    }
}

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

    /// The text of `field`; `None` when it is missing or null, or when it is not a
    /// string (said in `out`).
    fn text(&self, field: &str, out: &mut Vec<Violation>) -> Option<String> {
        match self.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                out.push(Violation::new(
                    field,
                    format!("`{field}` must be a string, found {}", json_kind(other)),
                    None,
                ));
                None
            }
        }
    }
}

/// Whether a body is a website hack (or its restore) rather than an article.
pub fn is_hack(body: &Map<String, Value>) -> bool {
    let body = Fields(body);
    ["is_hacked", "hacked_image", "show_details"]
        .iter()
        .any(|f| body.contains_key(f))
}

/// Every rule of the API contract that `body` breaks, at the endpoint it is for.
/// `channel_ok` decides which channel names are accepted (documented ones, plus a
/// scenario's `extra_channels`).
pub fn check(body: &Map<String, Value>, channel_ok: &dyn Fn(&str) -> bool) -> Vec<Violation> {
    check_at(endpoint(body), body, channel_ok)
}

/// The fields a persona move carries.
pub const GPS_FIELDS: &[&str] = &[
    "persona", "lat", "lon", "lng", "location", "team_id", "type", "ts",
];

/// [`check`] of a body sent to `at` (the stand-in knows the path; a scenario's body says it).
pub fn check_at(
    at: Endpoint,
    body: &Map<String, Value>,
    channel_ok: &dyn Fn(&str) -> bool,
) -> Vec<Violation> {
    if at == Endpoint::Gps {
        return check_gps(body);
    }
    let mut out = check_message(body, channel_ok);
    let text = |f: &str| body.get(f).and_then(Value::as_str).map(str::trim);
    let here = |f: &str| body.get(f).is_some_and(|v| !v.is_null());
    match at {
        Endpoint::Position => match body.get("position") {
            Some(Value::String(p)) if !p.trim().is_empty() => {}
            Some(Value::String(_)) => {
                out.push(Violation::new("position", "`position` is empty", None))
            }
            Some(other) => out.push(Violation::new(
                "position",
                format!(
                    "`position` must be a string such as \"CEO\", found {}",
                    json_kind(other)
                ),
                None,
            )),
            None => out.push(Violation::new(
                "position",
                "a message to a position needs `position`",
                None,
            )),
        },
        Endpoint::Role => match text("role") {
            Some(r) if ROLES.contains(&r) => {}
            Some(r) => out.push(Violation::new(
                "role",
                format!("`role` must be one of Role1…Role5, found `{r}`"),
                crate::diag::suggest(r, ROLES.iter().copied()),
            )),
            None => out.push(Violation::new(
                "role",
                if here("role") {
                    "`role` must be a string such as \"Role2\""
                } else {
                    "a message to a role needs `role`"
                },
                None,
            )),
        },
        Endpoint::Messages | Endpoint::Gps => {}
    }
    if here("position") && here("role") {
        out.push(
            Violation::new(
                "role",
                "a message goes to a position or to a role, not both",
                Some("keep one: `position` is one player, `role` everyone in that role".into()),
            )
            .caused_by("position"),
        );
    }
    if at != Endpoint::Messages {
        let what = if at == Endpoint::Position {
            "position"
        } else {
            "role"
        };
        for field in ["to", "player_email"] {
            if here(field) {
                out.push(
                    Violation::new(
                        field,
                        format!("a message to a {what} names no `{field}`: who receives it would be ambiguous"),
                        Some(format!("drop `{field}` (set it to null if a default sets it), or drop `{what}`")),
                    )
                    .caused_by(what),
                );
            }
        }
    } else {
        for field in ["position", "role"] {
            if here(field) {
                out.push(Violation::new(
                    field,
                    format!("`{field}` belongs to `POST /messages/{field}`, not `/messages`"),
                    None,
                ));
            }
        }
    }
    out
}

/// The contract of `POST /messages/gps`: a persona, coordinates in range, a place name,
/// the session team, `type: team`, `ts`; nothing a message carries.
fn check_gps(body: &Map<String, Value>) -> Vec<Violation> {
    let mut out = Vec::new();
    match body.get("persona").and_then(Value::as_str) {
        Some(p) if !p.trim().is_empty() => {}
        _ => out.push(Violation::new(
            "persona",
            "a persona move needs `persona` (whom it moves)",
            None,
        )),
    }
    let coordinate = |field: &str, range: f64, out: &mut Vec<Violation>| match body.get(field) {
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x.abs() <= range => {}
            Some(x) => out.push(Violation::new(
                field,
                format!("`{field}` must be between -{range} and {range}, found {x}"),
                None,
            )),
            None => out.push(Violation::new(
                field,
                format!("`{field}` must be a number, found {}", show(v)),
                None,
            )),
        },
        None => out.push(Violation::new(
            field,
            format!("a persona move needs `{field}`"),
            None,
        )),
    };
    coordinate("lat", 90.0, &mut out);
    let longitude = if body.contains_key("lng") {
        "lng"
    } else {
        "lon"
    };
    coordinate(longitude, 180.0, &mut out);
    match body.get("location").and_then(Value::as_str) {
        Some(l) if !l.trim().is_empty() => {}
        _ => out.push(Violation::new(
            "location",
            "a persona move needs `location`, the place players see (it need not match the coordinates)",
            None,
        )),
    }
    match body.get("type").and_then(Value::as_str) {
        Some("team") => {}
        _ => out.push(Violation::new(
            "type",
            "a persona move has `type: team`",
            None,
        )),
    }
    match body.get("team_id") {
        Some(id) if team_number(id).is_some() => {}
        Some(other) => out.push(Violation::new(
            "team_id",
            format!("`team_id` must be a numeric team id, found {}", show(other)),
            None,
        )),
        None => out.push(Violation::new(
            "team_id",
            "a persona move needs `team_id`, the session team",
            Some("set `team_id` to the session team (`injector teams` lists it, kind S)".into()),
        )),
    }
    match body.get("ts") {
        Some(v) if v.as_i64().is_some() => {}
        Some(v) => out.push(Violation::new(
            "ts",
            format!("`ts` must be an integer unix time, found {}", show(v)),
            None,
        )),
        None => out.push(Violation::new("ts", "`ts` is missing", None)),
    }
    for field in body.keys() {
        if !GPS_FIELDS.contains(&field.as_str()) {
            out.push(Violation::new(
                field,
                format!("a persona move carries no `{field}`: it is not a message"),
                Some("a move has persona, lat, lon, location, team_id, type and ts".into()),
            ));
        }
    }
    out
}

/// The rules every message shares, whatever its endpoint.
fn check_message(body: &Map<String, Value>, channel_ok: &dyn Fn(&str) -> bool) -> Vec<Violation> {
    let hack = is_hack(body);
    let body = Fields(body);
    let mut out = Vec::new();
    let channel = check_sender(&body, channel_ok, &mut out);
    check_content(&body, channel.as_deref(), hack, &mut out);
    check_recipients(&body, &mut out);
    check_details(&body, &mut out);
    out
}

/// Who sends a message and where: a persona, and a channel `channel_ok` accepts; the
/// channel, when it is a string.
fn check_sender(
    body: &Fields,
    channel_ok: &dyn Fn(&str) -> bool,
    out: &mut Vec<Violation>,
) -> Option<String> {
    match body.text("persona", out) {
        None if !out.iter().any(|v| v.field == "persona") => out.push(Violation::new(
            "persona",
            "`persona` is missing",
            Some(
                "every message is sent from a persona: set `persona` (here or in `defaults`)"
                    .into(),
            ),
        )),
        Some(p) if p.trim().is_empty() => {
            out.push(Violation::new("persona", "`persona` is empty", None))
        }
        _ => {}
    }
    let channel = body.text("channel", out);
    match &channel {
        None if !out.iter().any(|v| v.field == "channel") => out.push(Violation::new(
            "channel",
            "`channel` is missing",
            Some("set `channel`, for example `mail`, `microblog` or `websites`".into()),
        )),
        Some(c) if !channel_ok(c) => {
            let hint = crate::diag::suggest(c, DOCUMENTED_CHANNELS.iter().copied()).or_else(|| {
                Some("use a documented channel, or list it under `extra_channels`".into())
            });
            out.push(Violation::new(
                "channel",
                format!("unknown channel `{c}`"),
                hint,
            ));
        }
        _ => {}
    }
    channel
}

/// What a message shows: its texts are strings, a website article (not a `hack`) has a
/// title, a hack its `is_hacked`, flags are 1 or 0, and a hack's image is a URL.
fn check_content(body: &Fields, channel: Option<&str>, hack: bool, out: &mut Vec<Violation>) {
    for field in ["subject", "body", "title", "subtitle", "hacked_image"] {
        body.text(field, out);
    }

    if channel == Some("websites") && !hack {
        match body.get("title") {
            Some(Value::String(t)) if !t.trim().is_empty() => {}
            Some(Value::String(_)) => out.push(Violation::new(
                "title",
                "a website article needs a non-empty `title`",
                None,
            )),
            Some(_) => {}
            None => out.push(
                Violation::new(
                    "title",
                    "a website article needs a `title`",
                    Some("add `title`, or `is_hacked` if this is a website hack".into()),
                )
                .caused_by("channel"),
            ),
        }
    }
    if hack && !body.contains_key("is_hacked") {
        out.push(
            Violation::new(
                "is_hacked",
                "a website hack needs `is_hacked` (1 to hack, 0 to restore)",
                None,
            )
            .caused_by(if body.contains_key("hacked_image") {
                "hacked_image"
            } else {
                "show_details"
            }),
        );
    }
    for flag in FLAG_FIELDS {
        if let Some(v) = body.get(flag)
            && v.as_i64() != Some(0)
            && v.as_i64() != Some(1)
        {
            out.push(Violation::new(
                flag,
                format!("`{flag}` must be 1 or 0, found {}", show(v)),
                Some("write true/false or 1/0".into()),
            ));
        }
    }
    if let Some(url) = body.text("hacked_image", &mut Vec::new())
        && !is_http_url(&url)
    {
        out.push(Violation::new(
            "hacked_image",
            format!("`hacked_image` must be an http(s) URL, found `{url}`"),
            None,
        ));
    }
}

/// Whom a message is for: a `type` with what it needs (`team_id`, or `to` or
/// `player_email`), a numeric team id, and well-formed addresses.
fn check_recipients(body: &Fields, out: &mut Vec<Violation>) {
    let kind = body.text("type", out);
    match kind.as_deref() {
        None if !out.iter().any(|v| v.field == "type") => out.push(Violation::new(
            "type",
            "`type` is missing",
            Some("set `type: team` (with `team_id`) or `type: individual` (with `to` or `player_email`)".into()),
        )),
        Some("team") if !body.contains_key("team_id") => out.push(
            Violation::new("team_id", "a message of type `team` needs `team_id`", None)
                .caused_by("type"),
        ),
        Some("individual") if !body.contains_key("to") && !body.contains_key("player_email") => out.push(
            Violation::new("to", "a message of type `individual` needs `to` or `player_email`", None)
                .caused_by("type"),
        ),
        Some("team" | "individual") => {}
        Some(other) => out.push(Violation::new(
            "type",
            format!("`type` must be `individual` or `team`, found `{other}`"),
            crate::diag::suggest(other, RECIPIENT_TYPES.iter().copied()),
        )),
        None => {}
    }
    match body.get("team_id") {
        None => {}
        Some(Value::Number(n)) if n.as_u64().is_some() => {}
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {}
        Some(other) => out.push(Violation::new(
            "team_id",
            format!("`team_id` must be a numeric team id, found {}", show(other)),
            None,
        )),
    }
    for field in ["to", "player_email"] {
        if let Some(addr) = body.text(field, out) {
            check_addresses(field, &addr, false, out);
        }
    }
    for field in ADDRESS_LIST_FIELDS {
        if let Some(list) = body.text(field, out) {
            check_addresses(field, &list, true, out);
        }
    }
}

/// The rest of a message: its sentiment, its counts, its unix time `ts`, its assets.
fn check_details(body: &Fields, out: &mut Vec<Violation>) {
    if let Some(s) = body.text("sentiment", out)
        && !SENTIMENTS.contains(&s.as_str())
    {
        out.push(Violation::new(
            "sentiment",
            format!("`sentiment` must be positive, negative or neutral, found `{s}`"),
            crate::diag::suggest(&s, SENTIMENTS.iter().copied()),
        ));
    }
    for field in ["replies", "likes", "reposts"] {
        if let Some(v) = body.get(field)
            && v.as_u64().is_none()
        {
            out.push(Violation::new(
                field,
                format!(
                    "`{field}` must be a non-negative integer, found {}",
                    show(v)
                ),
                None,
            ));
        }
    }
    match body.get("ts") {
        None => out.push(Violation::new("ts", "`ts` is missing", None)),
        Some(v) if v.as_i64().is_none() => out.push(Violation::new(
            "ts",
            format!("`ts` must be an integer unix time, found {}", show(v)),
            None,
        )),
        _ => {}
    }
    if let Some(assets) = body.get("assets") {
        check_assets(assets, out);
    }
}

fn check_assets(assets: &Value, out: &mut Vec<Violation>) {
    let Some(list) = assets.as_array() else {
        out.push(Violation::new(
            "assets",
            format!("`assets` must be a list, found {}", json_kind(assets)),
            None,
        ));
        return;
    };
    for (i, asset) in list.iter().enumerate() {
        let n = i + 1;
        let Some(obj) = asset.as_object() else {
            out.push(Violation::new(
                "assets",
                format!("asset {n} must be a mapping with `type` and `assetUrl`"),
                None,
            ));
            continue;
        };
        match obj.get("type").and_then(Value::as_str) {
            Some(t) if ASSET_TYPES.contains(&t) => {}
            Some(t) => out.push(Violation::new(
                "assets",
                format!("asset {n}: `type` must be image, video, audio or document, found `{t}`"),
                crate::diag::suggest(t, ASSET_TYPES.iter().copied()),
            )),
            None => out.push(Violation::new(
                "assets",
                format!("asset {n}: `type` is missing or not a string"),
                None,
            )),
        }
        match obj.get("assetUrl").and_then(Value::as_str) {
            Some(u) if is_http_url(u) => {}
            Some(u) => out.push(Violation::new(
                "assets",
                format!("asset {n}: `assetUrl` must be an absolute http(s) URL, found `{u}`"),
                None,
            )),
            None => out.push(Violation::new(
                "assets",
                format!("asset {n}: `assetUrl` is missing or not a string"),
                None,
            )),
        }
        if let Some(alt) = obj.get("alt")
            && !alt.is_string()
        {
            out.push(Violation::new(
                "assets",
                format!("asset {n}: `alt` must be a string"),
                None,
            ));
        }
        for key in obj.keys() {
            if !["type", "assetUrl", "alt"].contains(&key.as_str()) {
                out.push(Violation::new(
                    "assets",
                    format!("asset {n}: unknown field `{key}`"),
                    crate::diag::suggest(key, ["type", "assetUrl", "alt"]),
                ));
            }
        }
    }
}

fn check_addresses(field: &str, value: &str, list: bool, out: &mut Vec<Violation>) {
    let parts: Vec<&str> = if list {
        value.split(',').map(str::trim).collect()
    } else {
        vec![value.trim()]
    };
    for part in parts {
        if !is_email(part) {
            let hint = if !list && value.contains(',') {
                Some(format!("`{field}` takes one address"))
            } else {
                None
            };
            out.push(Violation::new(
                field,
                format!("`{field}` has a malformed address `{part}`"),
                hint,
            ));
        }
    }
}

/// A plausible e-mail address: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let labels_ok = domain.split('.').all(|l| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b >= 0x80)
    });
    !local.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
        && !domain.contains('@')
        && domain.contains('.')
        && labels_ok
}

/// An absolute http or https URL with a host.
pub fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn documented(c: &str) -> bool {
        DOCUMENTED_CHANNELS.contains(&c)
    }

    fn fields(v: &Value) -> Vec<String> {
        check(v.as_object().unwrap(), &documented)
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn a_complete_team_post_passes() {
        let body = json!({"persona": "3-1", "channel": "microblog", "body": "x",
            "type": "team", "team_id": 3437866, "ts": 1738686056});
        assert_eq!(fields(&body), Vec::<String>::new());
    }

    #[test]
    fn each_rule_names_its_field() {
        let body = json!({"channel": "websitez", "type": "crowd", "ts": "soon",
            "sentiment": "happy", "likes": -1, "isDraft": 2, "cc": "a@b.co, nope",
            "assets": [{"type": "gif", "assetUrl": "/x.png"}]});
        let got = fields(&body);
        for f in [
            "persona",
            "channel",
            "type",
            "ts",
            "sentiment",
            "likes",
            "isDraft",
            "cc",
            "assets",
        ] {
            assert!(got.contains(&f.to_string()), "{f} missing from {got:?}");
        }
    }

    #[test]
    fn articles_need_titles_hacks_need_flags() {
        let article = json!({"persona": "3-1", "channel": "websites", "body": "x",
            "type": "team", "team_id": 1, "ts": 1});
        assert_eq!(fields(&article), vec!["title"]);
        let hack = json!({"persona": "3-1", "channel": "websites", "hacked_image": "ftp://x",
            "type": "team", "team_id": 1, "ts": 1});
        assert_eq!(fields(&hack), vec!["is_hacked", "hacked_image"]);
    }

    #[test]
    fn addresses_and_urls() {
        assert!(is_email("6981039fa6ef12.39280090@tstoryteller.com"));
        assert!(!is_email("sally@"));
        assert!(!is_email("sally theoffice.com"));
        assert!(is_http_url("https://conducttr-a.akamaihd.net/fa/x.png"));
        assert!(!is_http_url("https:///x"));
        assert!(!is_http_url("x.png"));
    }
}
