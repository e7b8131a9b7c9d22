//! `teams`, `personas`, `sync` and `validate --online`: the Conducttr workspace.

use serde_json::json;

use crate::cli::{ListArgs, ListFormat, SyncArgs, TargetArgs, ValidateArgs};
use crate::error::{Error, Exit};
use crate::{client, sync, workspace};

/// The workspace at the target (through the 15-minute cache when `use_cache`).
pub async fn workspace_of(
    target: &TargetArgs,
    use_cache: bool,
) -> Result<workspace::Workspace, Error> {
    let client = client::Client::new(super::target_from(target)?, client::Settings::default())?;
    super::read_workspace(&client, use_cache, "nothing was read", None).await
}

pub async fn validate_online(args: ValidateArgs) -> Result<Exit, Error> {
    let ws = workspace_of(&args.target, true).await?;
    super::check::validate(args, Some(&ws))
}

/// `teams` (with `teams` true) or `personas`.
pub async fn list(args: ListArgs, teams: bool) -> Result<Exit, Error> {
    let ws = workspace_of(&args.target, false).await?;
    let rows: Vec<serde_json::Value> = if teams {
        ws.teams
            .iter()
            .map(|t| json!({"id": t.id, "kind": t.kind(), "name": t.name}))
            .collect()
    } else {
        ws.personas
            .iter()
            .map(|p| serde_json::to_value(p).unwrap_or_default())
            .collect()
    };
    let text = match args.format {
        ListFormat::Text if teams => {
            let mut t = String::from("ID        KIND  NAME\n");
            for team in &ws.teams {
                t.push_str(&format!(
                    "{:<9} {:<5} {}\n",
                    team.id,
                    team.kind(),
                    team.name
                ));
            }
            t
        }
        ListFormat::Text => {
            let w = ws
                .personas
                .iter()
                .map(|p| p.handle.len())
                .max()
                .unwrap_or(6)
                // A longer handle (from a hostile server, say) runs past its column: a
                // format width is bounded, and no column need be that wide.
                .clamp(6, 64);
            let mut t = format!("{:<10} {:<w$} {:<24} JOB TITLE\n", "HASH", "HANDLE", "NAME");
            for p in &ws.personas {
                t.push_str(&format!(
                    "{:<10} {:<w$} {:<24} {}\n",
                    p.hash, p.handle, p.name, p.job_title
                ));
            }
            t
        }
        ListFormat::Json => serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n",
        ListFormat::Yaml => serde_saphyr::to_string(&rows)
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?,
    };
    super::write_output(args.output.output.as_deref(), &text)?;
    Ok(Exit::Ok)
}

pub async fn sync(args: SyncArgs) -> Result<Exit, Error> {
    let text = super::read_scenario(&args.file)?;
    let ws = workspace_of(&args.target, false).await?;
    let (new, changes) = sync::sync(&text, &ws)
        .map_err(|e| Error::usage(format!("{}: {e}", args.file.display()), None))?;
    for a in &changes.added {
        eprintln!("added {a}");
    }
    for u in &changes.updated {
        eprintln!("updated {u}");
    }
    for u in &changes.unknown {
        eprintln!("left alone {u}: not in the workspace");
    }
    if args.check {
        return Ok(if new == *text {
            Exit::Ok
        } else {
            Exit::Invalid
        });
    }
    match &args.output.output {
        Some(out) => fs_err::write(out, &new)?,
        None if new != *text => fs_err::write(&args.file, &new)?,
        None => {}
    }
    eprintln!(
        "{}: {} added, {} updated, {} left alone",
        args.file.display(),
        changes.added.len(),
        changes.updated.len(),
        changes.unknown.len()
    );
    Ok(Exit::Ok)
}
