//! `injector sync`: fill or update a scenario's `personas:` and `teams:` alias maps from
//! the workspace, editing the file's text so that everything else — order, comments,
//! quoting, blank lines — stays as it was.
//!
//! The YAML tree gives the exact line of each block and entry. An existing alias whose
//! name matches a workspace handle (personas) or team label (teams) has its value
//! rewritten in place on its own line; workspace entries the map lacks are appended at
//! the end of the block, in its indentation; a missing block is inserted before
//! `injects:`. Aliases the workspace does not know are left alone and reported.

use std::collections::BTreeSet;

use crate::workspace::Workspace;
use crate::yaml::{self, Node, Value};

/// What a sync changed.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unknown: Vec<String>,
}

/// A team label as an alias: "Blue Cell" -> "blue-cell".
pub fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// The desired entries of each map: alias -> value text (YAML).
/// Alias and value text, in order.
type Entries = Vec<(String, String)>;

fn wanted(ws: &Workspace) -> (Entries, Entries) {
    let personas = ws
        .personas
        .iter()
        .filter(|p| !p.handle.trim_start_matches('@').is_empty())
        .map(|p| {
            (
                p.handle.trim_start_matches('@').to_string(),
                format!("\"{}\"", p.hash),
            )
        })
        .collect();
    let mut seen = BTreeSet::new();
    let teams = ws
        .teams
        .iter()
        .map(|t| {
            let mut alias = slug(&t.label());
            if alias.is_empty() || !seen.insert(alias.clone()) {
                alias = format!("{}-{}", alias, t.id);
                seen.insert(alias.clone());
            }
            (alias, t.id.to_string())
        })
        .collect();
    (personas, teams)
}

/// Sync `text` with the workspace; the new text and what changed.
pub fn sync(text: &str, ws: &Workspace) -> Result<(String, Changes), String> {
    let (personas, teams) = wanted(ws);
    let mut changes = Changes::default();
    let mut out = text.to_string();
    // Teams first, then personas: each pass re-parses the text the previous one wrote.
    for (block, entries, match_key) in [("teams", &teams, false), ("personas", &personas, true)] {
        out = sync_block(&out, block, entries, match_key, &mut changes)?;
    }
    Ok((out, changes))
}

fn sync_block(
    text: &str,
    block: &str,
    wanted: &[(String, String)],
    handles: bool,
    changes: &mut Changes,
) -> Result<String, String> {
    let root =
        yaml::parse(text).map_err(|e| format!("the scenario is not valid YAML: {}", e.message))?;
    let Some(entries) = root.as_map() else {
        return Err("the scenario is not a YAML mapping".into());
    };
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let same = |a: &str, b: &str| {
        a.trim_start_matches('@')
            .eq_ignore_ascii_case(b.trim_start_matches('@'))
    };
    let position = entries.iter().position(|(k, _)| k.as_str() == Some(block));
    let Some(index) = position else {
        // No block: insert one before `injects:` (or at the end).
        let at = entries
            .iter()
            .find(|(k, _)| k.as_str() == Some("injects"))
            .map_or(lines.len(), |(k, _)| k.pos.line as usize - 1);
        let mut new = vec![format!("{block}:")];
        for (alias, value) in wanted {
            new.push(format!("  {}: {value}", quote_key(alias)));
            changes.added.push(format!("{block}.{alias}"));
        }
        lines.splice(at..at, new);
        return Ok(join(lines, text));
    };
    let (key, value) = &entries[index];
    let existing: Vec<(Node, Node)> = match &value.value {
        Value::Map(m) => m.to_vec(),
        Value::Null => Vec::new(),
        _ => return Err(format!("`{block}` is not a mapping")),
    };
    let block_inline = value.pos.line == key.pos.line && !existing.is_empty();
    let mut have: Vec<String> = Vec::new();
    let mut indent = 2;
    for (k, v) in &existing {
        let alias = k.scalar_text();
        have.push(alias.clone());
        indent = k.pos.column as usize - 1;
        match wanted.iter().find(|(a, _)| {
            if handles {
                same(a, &alias)
            } else {
                a.eq_ignore_ascii_case(&alias)
            }
        }) {
            Some((_, new_value)) => {
                let current = v.scalar_text();
                if current != new_value.trim_matches('"') {
                    if block_inline {
                        return Err(format!(
                            "`{block}` is written inline ({{...}}); write it as a block to sync it"
                        ));
                    }
                    let line = &mut lines[v.pos.line as usize - 1];
                    let start = v.pos.column as usize - 1;
                    let rest = &line[start..];
                    // Keep a trailing comment, and the spacing before it.
                    let comment = rest
                        .find(" #")
                        .map(|i| rest[rest[..i].trim_end().len()..].to_string())
                        .unwrap_or_default();
                    *line = format!("{}{new_value}{comment}", &line[..start]);
                    changes.updated.push(format!("{block}.{alias}"));
                }
            }
            None => changes.unknown.push(format!("{block}.{alias}")),
        }
    }
    let missing: Vec<&(String, String)> = wanted
        .iter()
        .filter(|(a, _)| {
            !have.iter().any(|h| {
                if handles {
                    same(a, h)
                } else {
                    a.eq_ignore_ascii_case(h)
                }
            })
        })
        .collect();
    if missing.is_empty() {
        return Ok(join(lines, text));
    }
    if block_inline {
        return Err(format!(
            "`{block}` is written inline ({{...}}); write it as a block to sync it"
        ));
    }
    // Append after the block's last entry line (or right after the key for an empty block).
    let last_line = existing
        .last()
        .map_or(key.pos.line as usize, |(_, v)| last_line_of(v) as usize);
    if existing.is_empty() {
        // `personas:` or `personas: {}` on its own line becomes a block.
        lines[key.pos.line as usize - 1] = format!(
            "{}:",
            &lines[key.pos.line as usize - 1][..key.pos.column as usize - 1 + block.len()]
        );
    }
    let new: Vec<String> = missing
        .iter()
        .map(|(alias, value)| {
            changes.added.push(format!("{block}.{alias}"));
            format!("{}{}: {value}", " ".repeat(indent), quote_key(alias))
        })
        .collect();
    lines.splice(last_line..last_line, new);
    Ok(join(lines, text))
}

fn last_line_of(node: &Node) -> u32 {
    match &node.value {
        Value::Map(m) => m.last().map_or(node.pos.line, |(_, v)| last_line_of(v)),
        Value::Seq(s) => s.last().map_or(node.pos.line, last_line_of),
        _ => node.pos.line,
    }
}

fn quote_key(alias: &str) -> String {
    if alias
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && !alias.starts_with('-')
    {
        alias.to_string()
    } else {
        serde_json::to_string(alias).unwrap_or_default()
    }
}

fn join(lines: Vec<String>, original: &str) -> String {
    let mut s = lines.join("\n");
    if original.ends_with('\n') || original.is_empty() {
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::{Persona, Team};

    fn ws() -> Workspace {
        Workspace {
            teams: vec![
                Team {
                    id: 3437866,
                    name: "T - Blue - 2026/02/06 03-33-10".into(),
                },
                Team {
                    id: 3440932,
                    name: "S - Harbour Flood - 2026/02/06 03-32-51".into(),
                },
            ],
            personas: vec![
                Persona {
                    hash: "3-49786".into(),
                    handle: "@harbourmaster".into(),
                    name: "Harbour Master".into(),
                    job_title: String::new(),
                },
                Persona {
                    hash: "3-49790".into(),
                    handle: "@tidewatch".into(),
                    name: "Tide Watch".into(),
                    job_title: String::new(),
                },
            ],
            positions: None,
            roles: None,
        }
    }

    #[test]
    fn updates_in_place_appends_and_keeps_comments() {
        let text = "# top comment\nname: X\npersonas:\n  # who is who\n  harbourmaster: \"3-1\"   # old id\n  ghost: \"3-9\"\n\ninjects: []\n";
        let (out, changes) = sync(text, &ws()).unwrap();
        assert_eq!(
            out,
            "# top comment\nname: X\npersonas:\n  # who is who\n  harbourmaster: \"3-49786\"   # old id\n  ghost: \"3-9\"\n  tidewatch: \"3-49790\"\n\nteams:\n  blue: 3437866\n  harbour-flood: 3440932\ninjects: []\n"
        );
        assert_eq!(changes.updated, vec!["personas.harbourmaster"]);
        assert_eq!(changes.unknown, vec!["personas.ghost"]);
        assert_eq!(changes.added.len(), 3);
        // A second sync changes nothing.
        let (again, changes) = sync(&out, &ws()).unwrap();
        assert_eq!(again, out);
        assert!(changes.added.is_empty() && changes.updated.is_empty());
    }
}
