//! The white cell: who may steer a run, by name and role, and how a token says who.
//!
//! A controllers file lists names with a role and the SHA-256 of each one's token (never
//! the token itself: `injector controllers add` prints it once). A request's bearer token
//! is hashed and compared, in constant time, with every entry's. Roles:
//! - `director`: everything (the clock: hold, resume, shift, end; and all below);
//! - `controller`: fire now, skip, unskip, judge expected actions, notes;
//! - `evaluator`: read, notes, and rate objectives (P, S, M, U);
//! - `observer`: read, and notes.
//!
//! Without a file, the run's single token is a director's. Pure but for [`read`] and
//! [`add`], which read and append the file.

use std::path::Path;

use sha2::Digest;

use crate::action::Action;
use crate::yaml::{Node, Pos, Value};

/// What a person in the white cell may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Director,
    Controller,
    Evaluator,
    Observer,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Director => "director",
            Role::Controller => "controller",
            Role::Evaluator => "evaluator",
            Role::Observer => "observer",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        match text {
            "director" => Some(Role::Director),
            "controller" => Some(Role::Controller),
            "evaluator" => Some(Role::Evaluator),
            "observer" => Some(Role::Observer),
            _ => None,
        }
    }

    /// Whether this role may carry out `action`.
    pub fn may(self, action: &Action) -> bool {
        match self {
            Role::Director => true,
            // Rating is the evaluators' (and the director's): those who steer the
            // exercise do not grade it.
            Role::Controller => !matches!(
                action,
                Action::Hold
                    | Action::Resume
                    | Action::Shift(_)
                    | Action::End
                    | Action::Undo { .. }
                    | Action::Rate { .. }
                    | Action::Apply { .. }
            ),
            Role::Evaluator => matches!(action, Action::Note { .. } | Action::Rate { .. }),
            Role::Observer => matches!(action, Action::Note { .. }),
        }
    }

    /// The least role that may carry out `action`, for a refusal's message.
    pub fn needed(action: &Action) -> Role {
        [
            Role::Observer,
            Role::Evaluator,
            Role::Controller,
            Role::Director,
        ]
        .into_iter()
        .find(|r| r.may(action))
        .unwrap_or(Role::Director)
    }

    /// Every action name this role may carry out (for the page).
    pub fn actions(self) -> Vec<&'static str> {
        Action::NAMES
            .iter()
            .copied()
            .filter(|name| {
                Action::from_request(
                    name,
                    &serde_json::json!({"key": "k", "by": "1s", "text": "t", "rating": "P", "inject": "body: x", "fields": "body: y", "text": "injects: []"}),
                )
                .is_ok_and(|a| self.may(&a))
            })
            .collect()
    }
}

/// Someone the run knows: a name and a role.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    pub name: String,
    pub role: Role,
}

/// One entry of the file.
#[derive(Clone, Debug)]
struct Entry {
    who: Identity,
    /// SHA-256 of the token, 32 bytes.
    hash: [u8; 32],
}

/// Who may steer a run.
#[derive(Clone, Debug)]
pub struct Controllers {
    entries: Vec<Entry>,
}

/// SHA-256 of a token.
fn digest(token: &str) -> [u8; 32] {
    sha2::Sha256::digest(token.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Controllers {
    /// The single-token set of a run without a file: its holder is the director.
    pub fn single(token: &str) -> Controllers {
        Controllers {
            entries: vec![Entry {
                who: Identity {
                    name: "director".into(),
                    role: Role::Director,
                },
                hash: digest(token),
            }],
        }
    }

    /// Who holds `token`, if anyone: every entry compared, each in constant time.
    pub fn who(&self, token: &str) -> Option<&Identity> {
        let h = digest(token.trim());
        let mut found = None;
        for e in &self.entries {
            let same = e.hash.iter().zip(&h).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
            if same && found.is_none() {
                found = Some(&e.who);
            }
        }
        found
    }

    /// Everyone in the file, in its order.
    pub fn identities(&self) -> impl Iterator<Item = &Identity> {
        self.entries.iter().map(|e| &e.who)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A problem with the file: where, what, and a hint.
#[derive(Debug)]
pub struct Problem {
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
}

/// Read a controllers file's text.
pub fn parse(text: &str) -> Result<Controllers, Vec<Problem>> {
    let root = crate::yaml::parse(text).map_err(|e| {
        vec![Problem {
            pos: e.pos.unwrap_or_default(),
            message: format!("invalid YAML: {}", e.message),
            hint: None,
        }]
    })?;
    let mut problems = Vec::new();
    let example = "write `controllers:` with entries `- { name: Alice, role: director, token_sha256: ... }` (`injector controllers add` writes them)";
    let list: Vec<Node> = match root.value {
        Value::Map(entries) => {
            let mut list = None;
            for (k, v) in entries.into_vec() {
                match (k.as_str(), v.value) {
                    (Some("controllers"), Value::Seq(items)) => list = Some(items.into_vec()),
                    (Some("controllers"), Value::Null) => list = Some(Vec::new()),
                    (Some("controllers"), _) => problems.push(Problem {
                        pos: v.pos,
                        message: "`controllers` must be a list".into(),
                        hint: Some(example.into()),
                    }),
                    (_, _) => problems.push(Problem {
                        pos: k.pos,
                        message: format!("unknown field `{}`", k.scalar_text()),
                        hint: Some("the file has one field, `controllers`".into()),
                    }),
                }
            }
            list.unwrap_or_default()
        }
        Value::Null => Vec::new(),
        _ => {
            return Err(vec![Problem {
                pos: root.pos,
                message: "a controllers file is a mapping".into(),
                hint: Some(example.into()),
            }]);
        }
    };
    let mut entries: Vec<Entry> = Vec::new();
    for item in list {
        let pos = item.pos;
        let Value::Map(fields) = item.value else {
            problems.push(Problem {
                pos,
                message: "a controller must be a mapping".into(),
                hint: Some(example.into()),
            });
            continue;
        };
        let (mut name, mut role, mut hash) = (None, None, None);
        let mut present: Vec<String> = Vec::new();
        for (k, v) in fields.into_vec() {
            present.push(k.scalar_text());
            let text = v.as_str().map(str::trim).map(String::from);
            match k.as_str() {
                Some("name") => match text.filter(|t| !t.is_empty()) {
                    Some(t) => name = Some(t),
                    None => problems.push(Problem {
                        pos: v.pos,
                        message: "`name` must be text".into(),
                        hint: None,
                    }),
                },
                Some("role") => match text.as_deref().and_then(Role::parse) {
                    Some(r) => role = Some(r),
                    None => problems.push(Problem {
                        pos: v.pos,
                        message: format!("unknown role `{}`", v.scalar_text()),
                        hint: crate::diag::suggest(
                            &v.scalar_text(),
                            ["director", "controller", "evaluator", "observer"],
                        )
                        .or(Some(
                            "a role is director, controller, evaluator or observer".into(),
                        )),
                    }),
                },
                Some("token_sha256") => {
                    let bytes = text.as_deref().and_then(unhex);
                    match bytes {
                        Some(b) => hash = Some(b),
                        None => problems.push(Problem {
                            pos: v.pos,
                            message: "`token_sha256` must be 64 hex digits (a SHA-256)".into(),
                            hint: Some("`injector controllers add NAME --role ROLE` writes it; the file never holds a token".into()),
                        }),
                    }
                }
                _ => problems.push(Problem {
                    pos: k.pos,
                    message: format!("unknown field `{}` in a controller", k.scalar_text()),
                    hint: crate::diag::suggest(&k.scalar_text(), ["name", "role", "token_sha256"]),
                }),
            }
        }
        match (name, role, hash) {
            (Some(name), Some(role), Some(hash)) => {
                if let Some(first) = entries.iter().find(|e| e.who.name == name) {
                    problems.push(Problem {
                        pos,
                        message: format!("`{name}` is listed twice"),
                        hint: Some(format!(
                            "names say who did what in the journal; `{name}` is a {} already",
                            first.who.role.name()
                        )),
                    });
                }
                entries.push(Entry {
                    who: Identity { name, role },
                    hash,
                });
            }
            _ => {
                // Fields present but wrong are reported above; here, the absent ones.
                let missing: Vec<&str> = ["name", "role", "token_sha256"]
                    .into_iter()
                    .filter(|f| !present.iter().any(|p| p == f))
                    .collect();
                if missing.is_empty() {
                    continue;
                }
                problems.push(Problem {
                    pos,
                    message: format!("this controller lacks {}", missing.join(", ")),
                    hint: Some(example.into()),
                });
            }
        }
    }
    if entries.iter().all(|e| e.who.role != Role::Director) && problems.is_empty() {
        problems.push(Problem {
            pos: root.pos,
            message: "no one in the file is a director: no one could hold or resume the clock"
                .into(),
            hint: Some("add one: `injector controllers add NAME --role director`".into()),
        });
    }
    if problems.is_empty() {
        Ok(Controllers { entries })
    } else {
        Err(problems)
    }
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// The text to append to a controllers file (its current text, possibly empty) to add
/// `name` with `role` and `token`: the whole file when it is new. `Err` when the name is
/// taken or the file is not a controllers file.
pub fn add(current: &str, name: &str, role: Role, token: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err("a name is 1 to 100 printable characters".into());
    }
    let mut out = String::new();
    if current.trim().is_empty() {
        out.push_str("# Who may steer a run (`injector run --controllers FILE`): names, roles and the\n# SHA-256 of each token. Tokens are printed once by `injector controllers add`.\ncontrollers:\n");
    } else {
        // Only a readable file, naming no one twice, is appended to.
        if let Some(problem) = unreadable(current) {
            return Err(format!(
                "the file is not a controllers file injector can read: {problem}"
            ));
        }
        if crate::yaml::parse(current).is_ok_and(|root| find_entry(&root, name).is_some()) {
            return Err(format!(
                "someone named `{name}` is in the file already (names that differ only in case count as one): choose another name, or give them a new token with `injector controllers rotate {name}`"
            ));
        }
        if !current.ends_with('\n') {
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "  - name: {}\n    role: {}\n    token_sha256: {}\n",
        serde_json::to_string(name).unwrap_or_default(),
        role.name(),
        hex(&digest(token))
    ));
    Ok(out)
}

/// The entries of a controllers file's list, each a mapping node (in file order).
fn entries_of(root: &Node) -> Vec<&Node> {
    root.as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some("controllers")))
        .and_then(|(_, v)| match &v.value {
            Value::Seq(items) => Some(items.iter().collect()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The entry named `name`: its index among the entries, and the entries.
fn find_entry<'a>(root: &'a Node, name: &str) -> Option<(usize, Vec<&'a Node>)> {
    let entries = entries_of(root);
    // Names differ by more than case (`add` keeps them so): `dana` finds `Dana`.
    let i = entries.iter().position(|e| {
        e.as_map().is_some_and(|f| {
            f.iter().any(|(k, v)| {
                k.as_str() == Some("name")
                    && v.as_str()
                        .is_some_and(|n| n.trim().to_lowercase() == name.trim().to_lowercase())
            })
        })
    })?;
    Some((i, entries))
}

/// The names in the file, for a refusal's did-you-mean.
fn unknown_name(root: &Node, name: &str) -> String {
    let names: Vec<String> = entries_of(root)
        .iter()
        .filter_map(|e| {
            e.as_map()?
                .iter()
                .find(|(k, _)| k.as_str() == Some("name"))
                .and_then(|(_, v)| v.as_str().map(String::from))
        })
        .collect();
    let hint = crate::diag::suggest(name, names.iter().map(String::as_str))
        .map_or(String::new(), |h| format!(" ({h})"));
    format!("no one named `{}` is in the file{hint}", name.trim())
}

/// What makes a controllers file's text unreadable, if anything: its first problem, a
/// file without a director aside (it is written; a run refuses it).
fn unreadable(text: &str) -> Option<String> {
    let problems = parse(text).err()?;
    problems
        .iter()
        .any(|p| !p.message.starts_with("no one in the file is a director"))
        .then(|| problems[0].message.clone())
}

/// Who a controllers file's text names, as far as it can be read.
pub fn identities_of(text: &str) -> Vec<Identity> {
    let Ok(root) = crate::yaml::parse(text) else {
        return Vec::new();
    };
    entries_of(&root)
        .iter()
        .filter_map(|e| {
            let f = e.as_map()?;
            let get = |k: &str| {
                f.iter()
                    .find(|(key, _)| key.as_str() == Some(k))
                    .and_then(|(_, v)| v.as_str().map(String::from))
            };
            Some(Identity {
                name: get("name")?,
                role: Role::parse(&get("role")?)?,
            })
        })
        .collect()
}

/// The byte where the line holding `offset` starts.
fn line_start(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1)
}

/// The file's text without `name`'s entry (its lines, from its `-` to the next entry).
pub fn remove(current: &str, name: &str) -> Result<String, String> {
    let root = crate::yaml::parse(current).map_err(|e| format!("invalid YAML: {}", e.message))?;
    let Some((i, entries)) = find_entry(&root, name) else {
        return Err(unknown_name(&root, name));
    };
    let start = line_start(current, entries[i].pos.offset as usize);
    let end = match entries.get(i + 1) {
        Some(next) => line_start(current, next.pos.offset as usize),
        None => {
            // The end of its last field's line.
            let last = entries[i]
                .as_map()
                .and_then(|f| {
                    f.iter()
                        .map(|(_, v)| (v.pos.offset + v.pos.len) as usize)
                        .max()
                })
                .unwrap_or(start);
            current[last.min(current.len())..]
                .find('\n')
                .map_or(current.len(), |n| last + n + 1)
        }
    };
    let mut out = format!("{}{}", &current[..start], &current[end..]);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    // Still a file injector reads (a file may end up with no director: refused at run).
    if let Some(problem) = unreadable(&out) {
        return Err(format!(
            "removing `{}` would leave a file injector cannot read: {problem}",
            name.trim()
        ));
    }
    Ok(out)
}

/// The file's text with `name`'s token replaced by `token` (its SHA-256).
pub fn rotate(current: &str, name: &str, token: &str) -> Result<String, String> {
    let root = crate::yaml::parse(current).map_err(|e| format!("invalid YAML: {}", e.message))?;
    let Some((i, entries)) = find_entry(&root, name) else {
        return Err(unknown_name(&root, name));
    };
    let Some(hash) = entries[i]
        .as_map()
        .and_then(|f| f.iter().find(|(k, _)| k.as_str() == Some("token_sha256")))
        .map(|(_, v)| v.pos)
    else {
        return Err(format!(
            "`{}` has no `token_sha256` to replace",
            name.trim()
        ));
    };
    let (from, to) = (hash.offset as usize, (hash.offset + hash.len) as usize);
    Ok(format!(
        "{}{}{}",
        &current[..from],
        hex(&digest(token)),
        &current[to.min(current.len())..]
    ))
}

/// Read a controllers file, with its problems as one error naming file:line:column.
pub fn read(path: &Path, text: &str) -> Result<Controllers, String> {
    parse(text).map_err(|problems| {
        problems
            .iter()
            .map(|p| {
                format!(
                    "{}:{}:{}: {}{}",
                    path.display(),
                    p.pos.line,
                    p.pos.column,
                    p.message,
                    p.hint.as_ref().map_or(String::new(), |h| format!(" ({h})"))
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_say_who_and_roles_say_what() {
        let text = add("", "Dana", Role::Director, "tok-dana").unwrap();
        let text = text.clone() + &add(&text, "Olive", Role::Observer, "tok-olive").unwrap();
        let text = text.clone() + &add(&text, "Cory", Role::Controller, "tok-cory").unwrap();
        assert!(!text.contains("tok-"), "tokens are never written");
        let c = parse(&text).unwrap();
        assert_eq!(c.who("tok-olive").unwrap().name, "Olive");
        assert_eq!(c.who("tok-dana").unwrap().role, Role::Director);
        assert!(c.who("tok-nobody").is_none());
        assert!(
            add(&text, "Olive", Role::Director, "x")
                .unwrap_err()
                .contains("already")
        );
        assert!(Role::Observer.may(&Action::Note {
            text: "x".into(),
            key: None,
            expectation: None,
            objectives: Vec::new(),
            tag: None,
        }));
        assert!(!Role::Observer.may(&Action::Hold));
        let rate = Action::Rate {
            objective: "O1".into(),
            rating: crate::action::Rating::S,
            note: None,
        };
        assert!(Role::Evaluator.may(&rate) && Role::Director.may(&rate));
        assert!(!Role::Controller.may(&rate) && !Role::Observer.may(&rate));
        assert!(!Role::Evaluator.may(&Action::Fire("a".into())));
        assert!(!Role::Evaluator.may(&Action::Met("e".into(), None)));
        assert_eq!(Role::needed(&rate), Role::Evaluator);
        // What the page offers each role: every action it may take, by name.
        assert_eq!(Role::Evaluator.actions(), ["note", "rate"]);
        assert_eq!(Role::Director.actions().len(), Action::NAMES.len());
        assert!(!Role::Controller.actions().contains(&"rate"));
        assert!(!Role::Controller.may(&Action::Shift(1)));
        assert!(Role::Controller.may(&Action::Fire("a".into())));
        // Controllers improvise (send, amend); only the director applies a changed scenario.
        let apply = Action::Apply {
            file: "new.yaml".into(),
            text: "injects: []".into(),
        };
        assert!(Role::Director.may(&apply) && !Role::Controller.may(&apply));
        assert!(!Role::Evaluator.may(&apply) && !Role::Observer.may(&apply));
        assert_eq!(Role::needed(&apply), Role::Director);
        let send = Action::Send {
            inject: "body: x".into(),
            file: "x.yaml".into(),
        };
        assert!(Role::Controller.may(&send) && !Role::Observer.may(&send));
        assert_eq!(Role::needed(&Action::Resume), Role::Director);
        let problems =
            parse("controllers:\n  - { name: X, role: boss, token_sha256: zz }\n").unwrap_err();
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].pos.line, 2);
    }
}
