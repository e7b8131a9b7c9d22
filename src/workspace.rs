//! The Conducttr workspace: its teams and personas, fetched, cached and matched.
//!
//! `GET /teams` answers a list; `GET /personas` answers a presigned link (valid 15
//! minutes) to a zip whose `data.json` lists the personas. [`fetch`] follows both and
//! names what went wrong (an expired link, a broken zip, a missing file). [`cached`]
//! keeps the result for 15 minutes under the user's cache directory, keyed by base URL.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::Client;

/// How long a fetched workspace is trusted.
pub const CACHE_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Team {
    pub id: u64,
    pub name: String,
}

impl Team {
    /// `S` session, `M` moderators, `T` a participant team, from the name's first letter.
    pub fn kind(&self) -> &'static str {
        match self.name.trim_start().chars().next() {
            Some('S') => "S",
            Some('M') => "M",
            Some('T') => "T",
            _ => "?",
        }
    }

    /// The name without its kind prefix and creation-time suffix: "T - Blue - 2026/.." -> "Blue".
    pub fn label(&self) -> String {
        let parts: Vec<&str> = self.name.split(" - ").collect();
        match parts.len() {
            0 | 1 => self.name.trim().to_string(),
            2 => parts[1].trim().to_string(),
            _ => parts[1..parts.len() - 1].join(" - ").trim().to_string(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Persona {
    pub hash: String,
    pub handle: String,
    pub name: String,
    pub job_title: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Workspace {
    pub teams: Vec<Team>,
    pub personas: Vec<Persona>,
    /// The exercise's positions (case-sensitive) and roles, where the target lists them
    /// (Conducttr does not; the stand-in does): `None` when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

impl Workspace {
    pub fn persona_by_handle(&self, handle: &str) -> Option<&Persona> {
        let bare = handle.trim_start_matches('@');
        self.personas
            .iter()
            .find(|p| p.handle.trim_start_matches('@').eq_ignore_ascii_case(bare))
    }

    pub fn has_persona(&self, hash: &str) -> bool {
        self.personas.iter().any(|p| p.hash == hash)
    }

    pub fn has_team(&self, id: &Value) -> bool {
        crate::message::team_number(id).is_some_and(|id| self.teams.iter().any(|t| t.id == id))
    }

    /// Did-you-mean over persona handles, names and hashes.
    pub fn suggest_persona(&self, word: &str) -> Option<String> {
        let handles = self.personas.iter().map(|p| p.handle.as_str());
        let names = self.personas.iter().map(|p| p.name.as_str());
        let hashes = self.personas.iter().map(|p| p.hash.as_str());
        crate::diag::did_you_mean(word, handles.chain(names).chain(hashes)).map(|found| {
            let p = self
                .personas
                .iter()
                .find(|p| p.handle == found || p.name == found || p.hash == found)
                .expect("found among them");
            format!("did you mean {} ({}, \"{}\")?", p.handle, p.name, p.hash)
        })
    }
}

/// Fetch teams and personas from the workspace.
pub async fn fetch(client: &Client) -> Result<Workspace, String> {
    let teams: Vec<Team> = serde_json::from_value(client.get_json("teams").await?)
        .map_err(|e| format!("GET /teams answered an unexpected shape ({e})"))?;
    let link = client.get_json("personas").await?;
    let url = link
        .get("presigned_url")
        .and_then(Value::as_str)
        .ok_or("GET /personas answered without a presigned_url")?;
    let cannot = |e: reqwest::Error| {
        if e.is_timeout() {
            format!(
                "downloading the personas archive took longer than {} (the limit for one request); the link or the server is too slow",
                crate::human::duration(
                    chrono::TimeDelta::from_std(client.settings().request_timeout)
                        .unwrap_or_default()
                )
            )
        } else {
            format!(
                "cannot download the personas archive: {}",
                crate::client::describe(&e)
            )
        }
    };
    let mut resp = client.http().get(url).send().await.map_err(cannot)?;
    let status = resp.status();
    // Bounded as it comes: never more than ARCHIVE_MAX_BYTES in memory.
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(cannot)? {
        if bytes.len() + chunk.len() > ARCHIVE_MAX_BYTES {
            return Err(format!(
                "the personas archive is larger than {} MiB (a limit); a workspace's personas fit in far less",
                ARCHIVE_MAX_BYTES >> 20
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    if status.as_u16() == 403 && String::from_utf8_lossy(&bytes).contains("expired") {
        return Err(
            "the personas link had expired before it was used (links last 15 minutes); try again"
                .into(),
        );
    }
    if !status.is_success() {
        return Err(format!(
            "downloading the personas archive answered {status}"
        ));
    }
    // Names and handles come from the server: never the token, even echoed.
    let redact = |s: &mut String| *s = client.target().redact(s);
    let mut personas = personas_from_zip(&bytes)?;
    for p in &mut personas {
        for field in [&mut p.hash, &mut p.handle, &mut p.name, &mut p.job_title] {
            redact(field);
        }
    }
    let names = |v: Option<Value>, what: &str| -> Result<Option<Vec<String>>, String> {
        v.map(|v| {
            serde_json::from_value::<Vec<String>>(v)
                .map(|list| {
                    list.into_iter()
                        .map(|n| client.target().redact(&n))
                        .collect()
                })
                .map_err(|e| format!("GET /{what} answered an unexpected shape ({e})"))
        })
        .transpose()
    };
    let positions = names(client.get_optional_json("positions").await?, "positions")?;
    let roles = names(client.get_optional_json("roles").await?, "roles")?;
    Ok(Workspace {
        teams,
        personas,
        positions,
        roles,
    })
}

/// The most of a personas archive downloaded (compressed).
pub const ARCHIVE_MAX_BYTES: usize = 32 << 20;
/// The most of its `data.json` read (decompressed): a compression bomb stops here.
pub const DATA_MAX_BYTES: u64 = 64 << 20;
/// The most entries a personas archive may have.
pub const ARCHIVE_MAX_ENTRIES: usize = 1000;

/// The personas of a Conducttr personas zip (`data.json`), read within
/// [`ARCHIVE_MAX_ENTRIES`] and [`DATA_MAX_BYTES`].
pub fn personas_from_zip(bytes: &[u8]) -> Result<Vec<Persona>, String> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("the personas archive is not a valid zip ({e})"))?;
    if archive.len() > ARCHIVE_MAX_ENTRIES {
        return Err(format!(
            "the personas archive has {} entries, more than {ARCHIVE_MAX_ENTRIES} (a limit); Conducttr's has one, data.json",
            archive.len()
        ));
    }
    let file = archive
        .by_name("data.json")
        .map_err(|_| "the personas archive has no data.json".to_string())?;
    let too_big = || {
        format!(
            "data.json in the personas archive is larger than {} MiB unpacked (a limit); it may be a compression bomb",
            DATA_MAX_BYTES >> 20
        )
    };
    if file.size() > DATA_MAX_BYTES {
        return Err(too_big());
    }
    // The declared size may lie: read one byte past the limit at most.
    let mut text = Vec::new();
    file.take(DATA_MAX_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("data.json in the personas archive cannot be unpacked ({e})"))?;
    if text.len() as u64 > DATA_MAX_BYTES {
        return Err(too_big());
    }
    let data: Value = serde_json::from_slice(&text)
        .map_err(|e| format!("data.json in the personas archive is not JSON ({e})"))?;
    let list = data
        .as_array()
        .ok_or("data.json in the personas archive is not a list")?;
    let text = |v: &Value, path: &[&str]| {
        path.iter()
            .try_fold(v, |v, k| v.get(*k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    Ok(list
        .iter()
        .filter(|p| !text(p, &["system_info", "hash"]).is_empty())
        .map(|p| Persona {
            hash: text(p, &["system_info", "hash"]),
            handle: text(p, &["system_info", "handle"]),
            name: {
                let n = text(p, &["system_info", "name"]);
                if n.is_empty() {
                    text(p, &["identity", "name"])
                } else {
                    n
                }
            },
            job_title: text(p, &["identity", "job_title"]),
        })
        .collect())
}

fn cache_path(base_url: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(base_url.as_bytes());
    let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    Some(dir.join("injector").join(format!("workspace-{name}.json")))
}

/// The workspace, from a cache younger than [`CACHE_TTL`] or fetched (and cached).
pub async fn cached(client: &Client) -> Result<Workspace, String> {
    let path = cache_path(&client.target().base_url);
    if let Some(path) = &path
        && let Ok(meta) = std::fs::metadata(path)
        && meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age < CACHE_TTL)
        && let Ok(text) = std::fs::read_to_string(path)
        && let Ok(ws) = serde_json::from_str::<Workspace>(&text)
    {
        return Ok(ws);
    }
    let ws = fetch(client).await?;
    if let Some(path) = &path {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(path, serde_json::to_string(&ws).unwrap_or_default());
    }
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_kinds_and_labels() {
        let t = Team {
            id: 1,
            name: "T - Blue Cell - 2026/02/06 03-33-10".into(),
        };
        assert_eq!((t.kind(), t.label().as_str()), ("T", "Blue Cell"));
        let s = Team {
            id: 2,
            name: "S - Harbour Flood - 2026/02/06 03-32-51".into(),
        };
        assert_eq!((s.kind(), s.label().as_str()), ("S", "Harbour Flood"));
        assert_eq!(
            Team {
                id: 3,
                name: "odd".into()
            }
            .kind(),
            "?"
        );
    }

    #[test]
    fn broken_archives_are_named() {
        assert!(
            personas_from_zip(b"not a zip")
                .unwrap_err()
                .contains("not a valid zip")
        );
    }
}
