//! The stand-in's world: the teams and personas it serves, from a fixture file or the
//! built-in default that matches the example scenarios.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Teams and personas of a pretend Conducttr workspace.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct World {
    #[serde(default)]
    pub teams: Vec<Team>,
    #[serde(default)]
    pub personas: Vec<Persona>,
    /// Channel names accepted beyond the documented list.
    #[serde(default)]
    pub channels: Vec<String>,
    /// The exercise's positions (case-sensitive), for `--check-ids`.
    #[serde(default)]
    pub positions: Vec<String>,
    /// The exercise's roles in use, for `--check-ids`.
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub id: u64,
    /// Conducttr's convention: `S - ...` session, `M - ...` moderators, `T - ...` a team.
    pub name: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Persona {
    /// The id POST /messages takes as `persona`, e.g. "3-49786".
    pub hash: String,
    pub handle: String,
    pub name: String,
    #[serde(default)]
    pub job_title: String,
    #[serde(default)]
    pub bio: String,
    #[serde(default)]
    pub role: String,
}

impl Persona {
    /// The persona in Conducttr's `data.json` shape.
    pub fn to_conducttr(&self) -> Value {
        json!({
            "system_info": {
                "hash": self.hash,
                "handle": self.handle,
                "name": self.name,
                "profile_image_url": format!("https://media.example.org/personas/{}.png", self.hash),
            },
            "identity": {
                "name": self.name,
                "gender": "",
                "age": null,
                "bio": self.bio,
                "pitch": "",
                "job_title": self.job_title,
            },
            "narrative": { "role": self.role, "archetype": "" },
            "affiliation": "",
        })
    }
}

impl World {
    /// Read a world file (YAML or JSON).
    pub fn load(path: &Path) -> Result<World, String> {
        let text = fs_err::read_to_string(path).map_err(|e| e.to_string())?;
        serde_saphyr::from_str::<World>(&text)
            .map_err(|e| format!("{}: {}", path.display(), e.without_snippet()))
    }

    pub fn has_persona(&self, hash: &str) -> bool {
        self.personas.iter().any(|p| p.hash == hash)
    }

    pub fn has_team(&self, id: &Value) -> bool {
        crate::message::team_number(id).is_some_and(|id| self.teams.iter().any(|t| t.id == id))
    }
}

impl Default for World {
    /// The teams and personas of the example scenarios in `scenarios/`.
    fn default() -> Self {
        let team = |id, name: &str| Team {
            id,
            name: name.to_string(),
        };
        let persona = |hash: &str, handle: &str, name: &str, job: &str| Persona {
            hash: hash.into(),
            handle: handle.into(),
            name: name.into(),
            job_title: job.into(),
            bio: String::new(),
            role: String::new(),
        };
        World {
            teams: vec![
                team(3440932, "S - Harbour Flood - 2026/02/06 03-32-51"),
                team(3437866, "T - Blue - 2026/02/06 03-33-10"),
                team(3437872, "T - Red - 2026/02/06 03-33-12"),
                team(3437880, "T - Green - 2026/02/06 03-33-15"),
                team(3441451, "M - Moderators - 2026/02/06 03-34-02"),
                team(3441001, "S - Border Week - 2026/10/20 08-00-00"),
                team(3441002, "T - North - 2026/10/20 08-00-05"),
                team(3441003, "T - South - 2026/10/20 08-00-07"),
            ],
            personas: vec![
                persona(
                    "3-49786",
                    "@harbourmaster",
                    "Harbour Master",
                    "Harbour master, Port of Portmere",
                ),
                persona(
                    "3-49790",
                    "@tidewatch",
                    "Tide Watch",
                    "Citizen tide gauge account",
                ),
                persona("3-49791", "@mayor", "Mayor Ellen Hart", "Mayor of Portmere"),
                persona(
                    "3-49792",
                    "@portmere_news",
                    "Portmere News",
                    "Local newspaper",
                ),
                persona(
                    "3-49795",
                    "@resident",
                    "Sam Quayle",
                    "Resident of Quay Street",
                ),
                persona(
                    "3-49796",
                    "@met_office",
                    "Met Office",
                    "National weather service",
                ),
                persona(
                    "3-52963",
                    "@hacktivist",
                    "Tide Breakers",
                    "Hacktivist collective",
                ),
                persona(
                    "3-61001",
                    "@ops_centre",
                    "Operations Centre",
                    "Joint operations centre",
                ),
                persona(
                    "3-61002",
                    "@field_reporter",
                    "Field Reporter",
                    "Wire service correspondent",
                ),
                persona(
                    "3-61003",
                    "@ministry",
                    "Ministry of Interior",
                    "Government ministry",
                ),
            ],
            channels: Vec::new(),
            // The example scenarios' positions and roles, and the API page's examples.
            positions: vec![
                "Incident Commander".into(),
                "Harbour Master".into(),
                "Press Officer".into(),
                "CEO".into(),
                "media_lead".into(),
            ],
            roles: vec!["Role1".into(), "Role2".into(), "Role3".into()],
        }
    }
}
