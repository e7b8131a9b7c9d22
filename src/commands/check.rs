//! `validate`, `plan`, `diff`, `schema` and `report`: what scenarios or a journal say,
//! offline.

use std::path::Path;

use chrono::Utc;
use serde_json::json;

use crate::cli::{
    DiffArgs, PlanArgs, PlanFormat, ReportArgs, ReportFormat, ReportShape, SchemaArgs, ValidateArgs,
};
use crate::error::{Error, Exit};
use crate::{diag, plan, report, schema, term, validate, workspace};

fn display_path(path: &Path) -> String {
    path.display().to_string()
}

pub fn schema(args: SchemaArgs) -> Result<Exit, Error> {
    super::write_output(args.output.output.as_deref(), &schema::schema_json())?;
    Ok(Exit::Ok)
}

pub fn validate(args: ValidateArgs, ws: Option<&workspace::Workspace>) -> Result<Exit, Error> {
    let now = Utc::now();
    let mut all_valid = true;
    let mut reports = Vec::new();
    let mut text = String::new();
    for path in &args.files {
        let source = super::read_scenario(path)?;
        let checked = match ws {
            Some(ws) => validate::check_online(&display_path(path), source, None, 1.0, now, ws),
            None => validate::check(&display_path(path), source, None, 1.0, now),
        };
        let valid = checked.is_valid(args.strict);
        all_valid &= valid;
        let (injects, crowds, occurrences, duration) = match &checked.timeline {
            Some(t) => {
                let crowds = t
                    .scenario
                    .injects
                    .iter()
                    .filter(|i| i.crowd.is_some())
                    .count();
                (
                    t.scenario.injects.len() - crowds,
                    crowds,
                    t.occurrences.len(),
                    t.duration(),
                )
            }
            None => (0, 0, 0, std::time::Duration::ZERO),
        };
        // Freeing a 100,000-inject tree costs tens of milliseconds the process
        // does not need to spend: it ends soon after.
        if let Some(t) = &checked.timeline
            && t.occurrences.len() > 10_000
        {
            std::mem::forget(t.scenario.clone());
        }
        match args.format {
            ReportFormat::Text => {
                eprint!("{}", checked.diags.render(term::stderr_color()));
                let verdict = if valid { "valid" } else { "invalid" };
                let crowds = match crowds {
                    0 => String::new(),
                    n => format!(", {}", crate::human::count(n, "crowd", "crowds")),
                };
                text.push_str(&format!(
                    "{}: {verdict}: {} error(s), {} warning(s); {injects} injects{crowds}, {occurrences} occurrences over {}\n",
                    display_path(path),
                    checked.diags.error_count(),
                    checked.diags.warning_count(),
                    plan::show_offset(duration).trim_start_matches("T+"),
                ));
            }
            ReportFormat::Json => {
                let (errors, warnings): (Vec<_>, Vec<_>) = checked
                    .diags
                    .items
                    .iter()
                    .partition(|d| d.level == diag::Level::Error);
                reports.push(json!({
                    "file": display_path(path),
                    "valid": valid,
                    "errors": errors,
                    "warnings": warnings,
                    "injects": injects,
                    "crowds": crowds,
                    "occurrences": occurrences,
                    "duration": plan::show_offset(duration),
                    "duration_ms": duration.as_millis() as u64,
                }));
            }
        }
    }
    if args.format == ReportFormat::Json {
        let doc = json!({ "valid": all_valid, "strict": args.strict, "files": reports });
        text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
    }
    super::write_output(args.output.output.as_deref(), &text)?;
    Ok(if all_valid { Exit::Ok } else { Exit::Invalid })
}

pub fn plan(args: PlanArgs) -> Result<Exit, Error> {
    let now = Utc::now();
    let start_at = super::parse_start_at(args.start_at.as_deref(), now)?;
    let source = super::read_scenario(&args.file)?;
    let shown = display_path(&args.file);
    let checked = validate::check_seeded(&shown, source, start_at, args.speed, now, args.seed);
    let Some((timeline, t0_known)) =
        super::valid_timeline(checked, &shown, "fix them to see the plan")
    else {
        return Ok(Exit::Invalid);
    };
    let output = args.output.output.as_deref();
    if let Some(assume) = &args.assume {
        let Some(model) = crate::adaptive::Model::new(&timeline) else {
            return Err(Error::usage(
                "--assume: this scenario has no expected actions or contingencies",
                Some("expected actions are `expect:` on an inject, or `expectations:`"),
            ));
        };
        let assumptions = crate::adaptive::parse_assumptions(assume, &model)
            .map_err(|e| Error::usage(e, Some(&crate::adaptive::assume_example(&model))))?;
        let sim = crate::adaptive::simulate(&timeline, &model, assumptions);
        let resolved = plan::resolve(&timeline, &sim);
        match args.format {
            PlanFormat::Text => super::write_output(
                output,
                &plan::text_resolved(&resolved, t0_known, &sim, &model),
            )?,
            PlanFormat::Csv => super::write_output(output, &plan::csv(&resolved))?,
            PlanFormat::Json => {
                super::write_output_with(output, |out| plan::write_json(&resolved, t0_known, out))?
            }
            PlanFormat::Html => super::write_output(output, &plan_page(&resolved, args.lanes))?,
        }
        return Ok(Exit::Ok);
    }
    match args.format {
        PlanFormat::Text => super::write_output(output, &plan::text(&timeline, t0_known))?,
        PlanFormat::Csv => super::write_output(output, &plan::csv(&timeline))?,
        PlanFormat::Json => {
            super::write_output_with(output, |out| plan::write_json(&timeline, t0_known, out))?
        }
        PlanFormat::Html => super::write_output(output, &plan_page(&timeline, args.lanes))?,
    }
    Ok(Exit::Ok)
}

/// The plan as a page: drawn by the report's renderer.
fn plan_page(timeline: &crate::timeline::Timeline, lanes: crate::cli::Lanes) -> String {
    let (report, layout) = report::Report::from_plan(timeline);
    report.plan_html(lanes == crate::cli::Lanes::Team, &layout)
}

pub fn report(args: ReportArgs) -> Result<Exit, Error> {
    let bytes = super::read_file(&args.journal, super::MAX_JOURNAL_BYTES, "journal")?;
    let text = String::from_utf8_lossy(&bytes);
    let report = report::Report::from_journal(&text);
    if report.runs == 0 {
        // Not a journal at all (a scenario, a plan, a record), or one a run never began.
        let what = if report.problems.is_empty() {
            "holds no run"
        } else {
            "is not a journal: it holds no run"
        };
        return Err(Error::usage(
            format!("{} {what}", args.journal.display()),
            Some(
                "give the journal a run wrote: <scenario stem>.journal.jsonl, or <scenario stem>.dry-run.journal.jsonl for a rehearsal",
            ),
        ));
    }
    for p in &report.problems {
        eprintln!("warning: {}: {p}", args.journal.display());
    }
    let out = match args.format {
        ReportShape::Text => report.text(),
        ReportShape::Csv => report.csv(),
        ReportShape::Json => report.json(),
        ReportShape::Html => report.html(args.lanes == crate::cli::Lanes::Team),
    };
    super::write_output(args.output.output.as_deref(), &out)?;
    Ok(Exit::Ok)
}

/// `injector diff OLD NEW`: exit 0 when the timelines are the same, 1 when they differ,
/// 2 when either cannot be read or is invalid.
pub fn diff(args: DiffArgs) -> Result<Exit, Error> {
    let now = Utc::now();
    let start_at = super::parse_start_at(args.start_at.as_deref(), now)?;
    let mut timelines = Vec::new();
    for path in [&args.old, &args.new] {
        let shown = display_path(path);
        let checked = validate::check(&shown, super::read_scenario(path)?, start_at, 1.0, now);
        match super::valid_timeline(checked, &shown, "fix them to compare it") {
            Some((t, _)) => timelines.push(t),
            None => return Ok(Exit::Usage),
        }
    }
    let (old, new) = (&timelines[0], &timelines[1]);
    // --only: keys or inject ids of either version.
    let mut wanted = std::collections::HashSet::new();
    for want in args.only.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let before = wanted.len();
        for t in [old, new] {
            for o in &t.occurrences {
                if o.key == want || t.inject(o).id == want {
                    wanted.insert(o.key.clone());
                }
            }
        }
        if wanted.len() == before {
            // Inject ids first: a typo of an id is likelier than of one occurrence.
            let ids = [old, new]
                .into_iter()
                .flat_map(|t| t.scenario.injects.iter().map(|i| i.id.as_str()));
            let keys = old.occurrences.iter().chain(&new.occurrences);
            let hint = diag::suggest(want, ids.chain(keys.map(|o| o.key.as_str())));
            return Err(Error::Usage {
                message: format!("--only: no occurrence or inject `{want}` in either version"),
                hint,
            });
        }
    }
    let only = |k: &str| args.only.is_empty() || wanted.contains(k);
    let changes = crate::diff::compare(old, new, &only);
    let text = match args.format {
        ReportFormat::Json => {
            // Each change in the text's words too: a move is `moved`, not only `changed`.
            let worded: Vec<serde_json::Value> = changes
                .iter()
                .map(|c| {
                    let mut v = serde_json::to_value(c).unwrap_or_default();
                    let what = match c {
                        crate::diff::Change::Added { .. } => "added",
                        crate::diff::Change::Removed { .. } => "removed",
                        crate::diff::Change::Changed {
                            old_offset_ms,
                            new_offset_ms,
                            fields,
                            ..
                        } => match (old_offset_ms != new_offset_ms, fields.is_empty()) {
                            (true, true) => "moved",
                            (true, false) => "moved and changed",
                            _ => "changed",
                        },
                    };
                    v["what"] = json!(what);
                    v
                })
                .collect();
            let doc = json!({
                "old": display_path(&args.old),
                "new": display_path(&args.new),
                "same": changes.is_empty(),
                "changes": worded,
            });
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
        ReportFormat::Text => diff_text(&args, &changes),
    };
    super::write_output(args.output.output.as_deref(), &text)?;
    Ok(if changes.is_empty() {
        Exit::Ok
    } else {
        Exit::Invalid
    })
}

/// The changes for people: a count line, then one line per change (and per field).
fn diff_text(args: &DiffArgs, changes: &[crate::diff::Change]) -> String {
    use crate::diff::Change;
    use std::fmt::Write as _;
    let at = |ms: u64| plan::show_offset(std::time::Duration::from_millis(ms));
    let value = |v: &Option<serde_json::Value>| match v {
        None => "(absent)".to_string(),
        Some(serde_json::Value::String(s)) => format!("{s:?}"),
        Some(v) => v.to_string(),
    };
    let count = |f: &dyn Fn(&Change) -> bool| changes.iter().filter(|c| f(c)).count();
    // A contingency's offset is its delay once its condition holds: changed, not moved.
    let delays = count(
        &|c| matches!(c, Change::Changed { old_offset_ms, new_offset_ms, contingent: true, .. } if old_offset_ms != new_offset_ms),
    );
    let mut out = format!(
        "{} -> {}: {} added, {} removed, {} moved, {} changed{}\n",
        display_path(&args.old),
        display_path(&args.new),
        count(&|c| matches!(c, Change::Added { .. })),
        count(&|c| matches!(c, Change::Removed { .. })),
        count(
            &|c| matches!(c, Change::Changed { old_offset_ms, new_offset_ms, contingent: false, .. } if old_offset_ms != new_offset_ms)
        ),
        count(&|c| matches!(c, Change::Changed { fields, .. } if !fields.is_empty())),
        if delays > 0 {
            format!(", {delays} with a new delay")
        } else {
            String::new()
        }
    );
    let delay = |ms: u64| crate::human::duration_ms(ms as i64);
    let when = |ms: u64, contingent: bool| {
        if contingent {
            format!("{} after its condition", delay(ms))
        } else {
            at(ms)
        }
    };
    for c in changes {
        match c {
            Change::Added {
                key,
                offset_ms,
                contingent,
            } => {
                let _ = writeln!(out, "+ {key}  {}  added", when(*offset_ms, *contingent));
            }
            Change::Removed {
                key,
                offset_ms,
                contingent,
            } => {
                let _ = writeln!(out, "- {key}  {}  removed", when(*offset_ms, *contingent));
            }
            Change::Changed {
                key,
                old_offset_ms,
                new_offset_ms,
                fields,
                contingent,
            } => {
                if old_offset_ms != new_offset_ms && *contingent {
                    let _ = writeln!(
                        out,
                        "~ {key}  delay {} -> {} after its condition",
                        delay(*old_offset_ms),
                        delay(*new_offset_ms)
                    );
                } else if old_offset_ms != new_offset_ms {
                    let _ = writeln!(
                        out,
                        "~ {key}  {} -> {}  moved",
                        at(*old_offset_ms),
                        at(*new_offset_ms)
                    );
                }
                for f in fields {
                    // An object (an expected action): each of its parts that changed.
                    if let (
                        Some(serde_json::Value::Object(a)),
                        Some(serde_json::Value::Object(b)),
                    ) = (&f.old, &f.new)
                    {
                        let parts: std::collections::BTreeSet<&String> =
                            a.keys().chain(b.keys()).collect();
                        for p in parts.into_iter().filter(|p| a.get(*p) != b.get(*p)) {
                            let _ = writeln!(
                                out,
                                "~ {key}  {}.{p}: {} -> {}",
                                f.field,
                                value(&a.get(p).cloned()),
                                value(&b.get(p).cloned())
                            );
                        }
                        continue;
                    }
                    let _ = writeln!(
                        out,
                        "~ {key}  {}: {} -> {}",
                        f.field,
                        value(&f.old),
                        value(&f.new)
                    );
                }
            }
        }
    }
    out
}
