//! `injector ctl`: one action on a running exercise, through its control endpoint (or its
//! state, once or as it changes); and `injector controllers`: who may.

use serde_json::Value;

use crate::action::Action;
use crate::cli::{ControllersAction, ControllersArgs, CtlAction, CtlArgs, ReportFormat};
use crate::error::{Error, Exit};
use crate::{action, client};

pub async fn ctl(args: CtlArgs) -> Result<Exit, Error> {
    let token = super::token_from(
        args.token_file.as_deref(),
        "INJECTOR_CONTROL_TOKEN",
        "no control token",
        "pass --token-file PATH or set INJECTOR_CONTROL_TOKEN (run --control prints it)",
    )?;
    let Some(control) = &args.control else {
        return Err(Error::usage(
            "ctl needs --control URL: the control address the run printed",
            Some("e.g. injector ctl --control http://127.0.0.1:8790/ status"),
        ));
    };
    let base = control_base(control)?;
    let watch = matches!(args.action, CtlAction::Watch);
    let dry = matches!(args.action, CtlAction::Apply { dry: true, .. });
    let Requested { action, options } = requested(args.action)?;
    let http = http_client(&base, watch, args.fingerprint.as_deref())?;
    let to = Endpoint {
        http: &http,
        base: &base,
        token: &token,
    };
    let json = args.format == ReportFormat::Json;
    let Some(action) = action else {
        return show_state(&to, watch, json).await;
    };
    let asked = Asked {
        action,
        options,
        preview: args.preview || dry,
        yes: args.yes,
        json,
    };
    act(&to, asked).await
}

/// The base URL of the run's control endpoint from `--control` as it was written: as
/// `run --control` printed it, or just HOST:PORT (then plain http, as the run serves).
fn control_base(control: &str) -> Result<String, Error> {
    let written = control.trim();
    let base = written
        .split('#')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    let base = if base.contains("://") {
        base.to_string()
    } else {
        format!("http://{base}")
    };
    if reqwest::Url::parse(&base).is_err() {
        return Err(Error::usage(
            format!("--control `{written}` is not the run's control URL"),
            Some("give the URL `run --control` printed, e.g. http://127.0.0.1:8790"),
        ));
    }
    Ok(base)
}

/// What a `ctl` subcommand asks of the run.
struct Requested {
    /// The same typed action the page and the keys send; `None` asks for the state.
    action: Option<Action>,
    /// The action's options beyond its own body (`at`, `in`, `force`, `late`, `correct`).
    options: serde_json::Map<String, Value>,
}

/// The typed action a `ctl` subcommand stands for, with its options.
fn requested(action: CtlAction) -> Result<Requested, Error> {
    let mut options = serde_json::Map::new();
    let action = match action {
        CtlAction::Status | CtlAction::Watch => None,
        CtlAction::End => Some(Action::End),
        CtlAction::Undo => Some(Action::undo()),
        CtlAction::Note {
            text,
            key,
            expectation,
            objectives,
            strength,
            improvement,
        } => {
            let tag = match (strength, improvement) {
                (true, _) => Some("strength"),
                (_, true) => Some("improvement"),
                _ => None,
            };
            Some(
                Action::from_request(
                    "note",
                    &serde_json::json!({"text": text, "key": key, "expectation": expectation,
                        "objectives": objectives, "tag": tag}),
                )
                .map_err(|e| Error::usage(e, None))?,
            )
        }
        CtlAction::Rate {
            objective,
            rating,
            note,
        } => Some(Action::Rate {
            objective,
            rating: action::Rating::parse(&rating)
                .map_err(|e| Error::usage(e, Some("e.g. injector ctl rate O1 S --note \"...\"")))?,
            note,
        }),
        CtlAction::Hold => Some(Action::Hold),
        CtlAction::Resume => Some(Action::Resume),
        CtlAction::Skip { key } => Some(Action::Skip(key)),
        CtlAction::Unskip { key, when } => {
            time_options(&mut options, when);
            Some(Action::Unskip(key))
        }
        CtlAction::Retry { key } => Some(Action::Retry(key)),
        CtlAction::Amend { key, file, when } => {
            time_options(&mut options, when);
            let (fields, name) = match file {
                Some(f) => read_inject(
                    &f,
                    "an amendment is the fields to change, e.g. subject: ...",
                )?,
                // Only a new time: no fields to change.
                None => ("{}\n".to_string(), "(amendment)".to_string()),
            };
            Some(Action::Amend {
                key,
                fields,
                file: name,
            })
        }
        CtlAction::Apply { file, .. } => {
            let (text, file) = read_scenario_text(&file)?;
            Some(Action::Apply { file, text })
        }
        CtlAction::Send { file, when } => {
            time_options(&mut options, when);
            let (inject, name) = read_inject(
                &file,
                "an ad hoc inject is one inject of the scenario's shape",
            )?;
            Some(Action::Send { inject, file: name })
        }
        CtlAction::Fire { key, force } => {
            if force {
                options.insert("force".into(), Value::Bool(true));
            }
            Some(Action::Fire(key))
        }
        CtlAction::Shift { by, late } => {
            if let Some(late) = late {
                let name = match late {
                    crate::cli::LateArg::Fire => "fire",
                    crate::cli::LateArg::Skip => "skip",
                };
                options.insert("late".into(), Value::from(name));
            }
            Some(Action::Shift(
                action::parse_shift(&by).map_err(|e| Error::usage(e, None))?,
            ))
        }
        CtlAction::Met { id, note, correct } => {
            if correct {
                options.insert("correct".into(), Value::Bool(true));
            }
            Some(Action::Met(id, note))
        }
        CtlAction::Missed { id, note, correct } => {
            if correct {
                options.insert("correct".into(), Value::Bool(true));
            }
            Some(Action::Missed(id, note))
        }
    };
    Ok(Requested { action, options })
}

/// A time given (`--at`, `--in`) as the action's options.
fn time_options(options: &mut serde_json::Map<String, Value>, when: crate::cli::TimeGiven) {
    if let Some(at) = when.at {
        options.insert("at".into(), Value::from(at));
    }
    if let Some(within) = when.within {
        options.insert("in".into(), Value::from(within));
    }
}

/// An ad hoc inject's YAML, from a file or (`-`) stdin, with the name its problems
/// give.
fn read_inject(file: &std::path::Path, what: &str) -> Result<(String, String), Error> {
    use std::io::Read as _;
    let (bytes, name) = if file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(action::MAX_INJECT as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::usage(format!("cannot read stdin: {e}"), None))?;
        (bytes, "(stdin)".to_string())
    } else {
        (
            super::read_file(file, action::MAX_INJECT as u64, "inject")?,
            file.display().to_string(),
        )
    };
    if bytes.len() > action::MAX_INJECT {
        return Err(Error::usage(
            format!(
                "{name}: an ad hoc inject is at most {} KiB of YAML",
                action::MAX_INJECT / 1024
            ),
            None,
        ));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::usage(format!("{name}: not UTF-8 text"), None))?;
    if text.trim().is_empty() {
        return Err(Error::usage(
            format!("{name} is empty: {what}"),
            Some(
                "write it in the scenario's words (persona:, channel:, team_id:, subject:, body:), without the `- `",
            ),
        ));
    }
    Ok((text, name))
}

/// A scenario's text to apply, from a file or (`-`) stdin, with the name its problems
/// give.
fn read_scenario_text(file: &std::path::Path) -> Result<(String, String), Error> {
    use std::io::Read as _;
    let (text, name) = if file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(action::MAX_APPLIED as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::usage(format!("cannot read stdin: {e}"), None))?;
        let text =
            String::from_utf8(bytes).map_err(|_| Error::usage("(stdin): not UTF-8 text", None))?;
        (text, "(stdin)".to_string())
    } else {
        let text = super::read_scenario(file)?;
        (text.to_string(), file.display().to_string())
    };
    if text.len() > action::MAX_APPLIED {
        return Err(Error::usage(
            format!(
                "{name}: a scenario to apply is at most {} MiB of YAML",
                action::MAX_APPLIED / 1024 / 1024
            ),
            Some("apply it at the next run's start instead"),
        ));
    }
    if text.trim().is_empty() {
        return Err(Error::usage(
            format!("{name} is empty: `apply` takes a whole scenario"),
            Some("give the scenario file as the run began with it, with your changes"),
        ));
    }
    Ok((text, name))
}

/// The HTTP client `ctl` talks to the run with: a timeout unless it watches, and the
/// run's certificate pinned when `--fingerprint` gives it.
fn http_client(
    base: &str,
    watch: bool,
    fingerprint: Option<&str>,
) -> Result<reqwest::Client, Error> {
    client::install_crypto();
    let mut builder = reqwest::Client::builder();
    // A watch lasts as long as the run; a request, seconds.
    if !watch {
        builder = builder.timeout(std::time::Duration::from_secs(15));
    }
    if let Some(f) = fingerprint {
        let sha = crate::tls::parse_fingerprint(f).map_err(|e| Error::usage(e, None))?;
        if !base.starts_with("https://") {
            return Err(Error::usage(
                "--fingerprint pins a TLS certificate, but the control URL is plain http",
                Some("give the https:// URL the run printed"),
            ));
        }
        builder = builder.use_preconfigured_tls(crate::tls::pinned_client(sha));
    }
    Ok(builder
        .build()
        .map_err(|e| client::Error::Build(e.to_string()))?)
}

/// `status` and `watch`: the run's state once, as a table or JSON, or as it changes.
async fn show_state(to: &Endpoint<'_>, watch: bool, json: bool) -> Result<Exit, Error> {
    let resp = to.get(if watch { "events" } else { "state" }).await?;
    let status = resp.status();
    if watch && status.is_success() {
        return watch_events(to, resp, json).await;
    }
    let answer: Value = resp.json().await.unwrap_or(Value::Null);
    refused_token(status)?;
    if !status.is_success() {
        eprintln!(
            "refused: {}",
            answer["error"].as_str().unwrap_or("unknown error")
        );
        return Ok(Exit::Invalid);
    }
    let text = if json {
        serde_json::to_string_pretty(&answer).unwrap_or_default() + "\n"
    } else {
        status_table(&answer)
    };
    super::write_output(None, &text)?;
    Ok(Exit::Ok)
}

/// An action as `ctl` was asked to send it.
struct Asked {
    action: Action,
    /// Its options beyond its own body.
    options: serde_json::Map<String, Value>,
    /// `--preview`: only show what it would do.
    preview: bool,
    /// `--yes`: confirmed ahead.
    yes: bool,
    /// `--format json`.
    json: bool,
}

/// Sends the action, and when the run wants a confirmation, shows what it would do and
/// asks for one on a terminal before sending it again confirmed.
async fn act(to: &Endpoint<'_>, asked: Asked) -> Result<Exit, Error> {
    let Asked {
        action,
        options,
        preview,
        yes,
        json,
    } = asked;
    let mut body = action.request_body();
    for (k, v) in options {
        body[k] = v;
    }
    if preview {
        body["preview"] = Value::Bool(true);
    }
    if yes {
        body["confirm"] = Value::Bool(true);
    }
    let (status, answer) = to.post(&action, &body).await?;
    // For scripts: the run's answer as it came (ok, message or error, preview).
    if json && !preview {
        super::write_output(
            None,
            &(serde_json::to_string_pretty(&answer).unwrap_or_default() + "\n"),
        )?;
        return Ok(if status.is_success() {
            Exit::Ok
        } else {
            Exit::Invalid
        });
    }
    if status.is_success() {
        if preview {
            print_preview(&answer["preview"], json, true)?;
        } else {
            super::write_output(
                None,
                &format!("{}\n", answer["message"].as_str().unwrap_or("done")),
            )?;
        }
        return Ok(Exit::Ok);
    }
    if answer["confirm_needed"] != Value::Bool(true) {
        eprintln!(
            "refused: {}",
            answer["error"].as_str().unwrap_or("unknown error")
        );
        return Ok(Exit::Invalid);
    }
    // It needs a confirmation: show what it would do, then ask on a terminal.
    let preview = &answer["preview"];
    print_preview(preview, false, false)?;
    if !confirmed(&action) {
        return Ok(Exit::Invalid);
    }
    // Confirmed for exactly that preview: refused with the new one if it changed since.
    body["confirm"] = preview["id"].clone();
    let (status, answer) = to.post(&action, &body).await?;
    if status.is_success() {
        super::write_output(
            None,
            &format!("{}\n", answer["message"].as_str().unwrap_or("done")),
        )?;
        return Ok(Exit::Ok);
    }
    eprintln!(
        "refused: {}",
        answer["error"].as_str().unwrap_or("unknown error")
    );
    Ok(Exit::Invalid)
}

/// Asks `y/N` on a terminal whether to carry out `action`; without a terminal, or
/// without a yes, says why nothing was done and answers no.
fn confirmed(action: &Action) -> bool {
    use std::io::IsTerminal;
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        eprintln!(
            "refused: `{}` needs a confirmation and there is no terminal to ask on; nothing was done (run it again with --yes to confirm)",
            action.name()
        );
        return false;
    }
    eprint!("Do it? [y/N] ");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    if !matches!(line.trim(), "y" | "Y" | "yes" | "Yes" | "YES") {
        eprintln!("left as it was: nothing was done");
        return false;
    }
    true
}

/// Where `ctl` sends: the run's control URL with its token.
struct Endpoint<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
    token: &'a str,
}

impl Endpoint<'_> {
    async fn get(&self, path: &str) -> Result<reqwest::Response, Error> {
        let request = self.http.get(format!("{}/api/{path}", self.base));
        self.send(request).await
    }

    /// POST `action` with `body`: the status and the JSON answer.
    async fn post(
        &self,
        action: &Action,
        body: &Value,
    ) -> Result<(reqwest::StatusCode, Value), Error> {
        let request = self
            .http
            .post(format!("{}/api/{}", self.base, action.name()))
            .json(body)
            .header("x-injector-source", "command");
        let resp = self.send(request).await?;
        let status = resp.status();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        refused_token(status)?;
        Ok((status, answer))
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, Error> {
        let base = self.base;
        request.bearer_auth(self.token).send().await.map_err(|e| {
            let debug = format!("{e:?}");
            let tls = debug.contains("certificate") || debug.contains("Certificate");
            let hint = if tls && base.starts_with("https://") {
                "the run's certificate was not trusted: pass --fingerprint with the fingerprint the run printed"
            } else if debug.contains("HTTP version") && base.starts_with("http://") {
                "the run serves its control over TLS here: give the https:// URL it printed, with --fingerprint"
            } else {
                "is the run up, with --control? give the address it printed (`control: ...`); a resumed run keeps it"
            };
            Error::usage(
                format!("cannot reach the run at {base}: {}", client::describe(&e)),
                Some(hint),
            )
        })
    }
}

fn refused_token(status: reqwest::StatusCode) -> Result<(), Error> {
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(Error::usage(
            "the control token was refused",
            Some("use the token the run printed at start"),
        ));
    }
    Ok(())
}

/// A preview as a person reads it (stderr while asking; stdout for `--preview`), or as
/// JSON.
fn print_preview(preview: &Value, json: bool, data: bool) -> Result<(), Error> {
    if json {
        return super::write_output(
            None,
            &(serde_json::to_string_pretty(preview).unwrap_or_default() + "\n"),
        );
    }
    let mut text = format!(
        "`{}` {}\n",
        preview["action"].as_str().unwrap_or("this"),
        preview["text"].as_str().unwrap_or("")
    );
    let items = preview["items"].as_array().cloned().unwrap_or_default();
    let zone: Option<chrono_tz::Tz> = preview["timezone"].as_str().and_then(|z| z.parse().ok());
    let short_time = |rfc: &str| short_time(rfc, zone);
    for item in items.iter().take(12) {
        let s = |k: &str| item[k].as_str().unwrap_or("").to_string();
        let subject = s("subject");
        let subject = if subject.is_empty() {
            String::new()
        } else {
            format!(" \"{subject}\"")
        };
        let times = match (item["from"].as_str(), item["to"].as_str()) {
            (Some(f), Some(t)) if f != t => format!(" {} -> {}", short_time(f), short_time(t)),
            (Some(f), _) => format!(" due {}", short_time(f)),
            (None, Some(t)) => format!(" at {}", short_time(t)),
            (None, None) => String::new(),
        };
        text.push_str(&format!(
            "  {}{subject}: {}{times}\n",
            s("key"),
            s("effect")
        ));
        // An ad hoc inject's exact request body.
        if item["body"].is_object() {
            let body = serde_json::to_string_pretty(&item["body"]).unwrap_or_default();
            for line in body.lines() {
                text.push_str(&format!("    {line}\n"));
            }
        }
    }
    if items.len() > 12 {
        text.push_str(&format!(
            "  and {} more (--preview --format json lists them all)\n",
            items.len() - 12
        ));
    }
    if data {
        super::write_output(None, &text)
    } else {
        eprint!("{text}");
        Ok(())
    }
}

/// `10:02:13` of an RFC 3339 instant in the scenario's zone (without one, at its own
/// offset); the text as it is when it is not one.
fn short_time(rfc: &str, zone: Option<chrono_tz::Tz>) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc).map_or(rfc.to_string(), |t| match zone {
        Some(z) => t.with_timezone(&z).format("%H:%M:%S").to_string(),
        None => t.format("%H:%M:%S").to_string(),
    })
}

/// The state as a table for people: the clock, then each occurrence with its scenario
/// time, local time, key, channel, subject, recipient and status.
fn status_table(state: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let zone: Option<chrono_tz::Tz> = state["timezone"].as_str().and_then(|z| z.parse().ok());
    let local = |rfc: &Value| rfc.as_str().map_or(String::new(), |t| short_time(t, zone));
    let clock = if state["ended"].is_string() {
        s(&state["ended"])
    } else if state["held"] == Value::Bool(true) {
        format!("held since {}", local(&state["held_since"]))
    } else if state["waiting"] == Value::Bool(true) {
        "nothing left to send: end the exercise when the hot wash is done (`injector ctl --control URL --yes end`)".into()
    } else {
        "running".into()
    };
    // The exercise clock: scenario time since T0, less holds and shifts.
    let exercise = (|| {
        let t0 = chrono::DateTime::parse_from_rfc3339(state["t0"].as_str()?).ok()?;
        let now = match state["held_since"].as_str() {
            Some(h) => chrono::DateTime::parse_from_rfc3339(h).ok()?,
            None => chrono::DateTime::parse_from_rfc3339(state["now"].as_str()?).ok()?,
        };
        let ms = (now - t0).num_milliseconds() - state["shift_ms"].as_i64().unwrap_or(0);
        let scaled = ms as f64 * state["speed"].as_f64().unwrap_or(1.0);
        Some(if scaled < 0.0 {
            crate::plan::show_offset(std::time::Duration::from_millis(
                -scaled as u64 / 1000 * 1000,
            ))
            .replacen("T+", "T-", 1)
        } else {
            crate::plan::show_offset(std::time::Duration::from_millis(
                scaled as u64 / 1000 * 1000,
            ))
        })
    })()
    .map_or(String::new(), |t| format!("  now {t}"));
    let shift = state["shift_ms"].as_i64().unwrap_or(0);
    let mut out = format!(
        "{}  T0 {} ({})  speed {}{exercise}  {}{}\n",
        s(&state["scenario"]),
        local(&state["t0"]),
        s(&state["timezone"]),
        state["speed"]
            .as_f64()
            .map_or("max".to_string(), |v| v.to_string()),
        clock,
        if shift != 0 {
            format!("  (moved {})", crate::human::moved_ms(shift))
        } else {
            String::new()
        }
    );
    for r in state["restarts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        out.push_str(&format!(
            "restarted {} after {} down (stopped {})\n",
            local(&r["resumed_at"]),
            s(&r["downtime"]),
            local(&r["stopped_at"])
        ));
    }
    out.push_str(&occurrence_table(state, &local));
    out.push_str(&branch_lines(state, &local));
    out
}

/// The occurrences as a table, in the order they went or will go.
fn occurrence_table(state: &Value, local: &dyn Fn(&Value) -> String) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    // In the order they went or will go (one fired by hand where it went); a
    // contingency has a row once triggered.
    let mut occurrences: Vec<&Value> = state["occurrences"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let when = |o: &Value| {
        o["sent_at"]
            .as_str()
            .or(o["effective_at"].as_str())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    occurrences.sort_by_key(|o| when(o));
    let rows: Vec<[String; 8]> = occurrences
        .into_iter()
        .map(|o| {
            let time = if o["sent_at"].is_string() {
                local(&o["sent_at"])
            } else {
                local(&o["effective_at"])
            };
            [
                s(&o["t_plus"]),
                time,
                match o["mark"].as_str() {
                    Some(mark) => format!("{} ({mark})", s(&o["key"])),
                    None => s(&o["key"]),
                },
                s(&o["channel"]),
                s(&o["persona"]),
                s(&o["subject"]),
                s(&o["to"]),
                s(&o["status"]),
            ]
        })
        .collect();
    crate::table::text_table(
        [
            "T+", "time", "key", "channel", "persona", "subject", "to", "status",
        ],
        &rows,
    )
}

/// The expected actions and contingencies, a line each.
fn branch_lines(state: &Value, local: &dyn Fn(&Value) -> String) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let mut out = String::new();
    for e in state["expectations"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let outcome = match e["outcome"].as_str() {
            Some(o) => format!("{o} (by {}, {})", s(&e["by"]), local(&e["at"])),
            None if e["due"].is_string() => format!("open, due {}", local(&e["due"])),
            None => "open (its inject has not gone)".into(),
        };
        out.push_str(&format!(
            "expect {}: {} — {outcome}\n",
            s(&e["id"]),
            s(&e["action"])
        ));
    }
    for c in state["contingencies"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        // A triggered one still to go: when it goes.
        let goes = state["occurrences"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .find(|o| {
                o["status"] == "pending"
                    && o["key"]
                        .as_str()
                        .zip(c["id"].as_str())
                        .is_some_and(|(k, id)| crate::action::of_inject(k, id))
            })
            .filter(|_| c["state"] == "triggered")
            .map_or(String::new(), |o| {
                format!(", goes at {}", local(&o["effective_at"]))
            });
        out.push_str(&format!(
            "contingency {} when {}: {}{goes}\n",
            s(&c["id"]),
            s(&c["condition"]),
            s(&c["state"])
        ));
    }
    out
}

/// Print each state the run pushes (for people: the whole table once, then the clock
/// and the rows that changed; or one JSON line per change), until the run ends. The
/// run pushes the state, then deltas: each is taken into the state it has; a message
/// that cannot be placed (one missed) and it follows again, for the state afresh.
async fn watch_events(
    to: &Endpoint<'_>,
    mut resp: reqwest::Response,
    json: bool,
) -> Result<Exit, Error> {
    use std::io::Write;
    let mut pending = String::new();
    let mut shown: Option<std::collections::HashSet<String>> = None;
    let mut last_json: Option<Value> = None;
    let mut state: Option<Value> = None;
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) | Err(_) => return Ok(Exit::Ok),
        };
        pending.push_str(&String::from_utf8_lossy(&chunk));
        // Events end with a blank line: an `event:` line (its name) and a `data:` line.
        while let Some(end) = pending.find("\n\n") {
            let event: String = pending.drain(..end + 2).collect();
            let name = event
                .lines()
                .find_map(|l| l.strip_prefix("event:"))
                .map_or("state", str::trim);
            let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) else {
                continue;
            };
            let message: Value = serde_json::from_str(data.trim_start()).unwrap_or(Value::Null);
            if !crate::control::take_pushed(&mut state, name, message) {
                resp = to.get("events").await?;
                pending.clear();
                state = None;
                break;
            }
            let Some(state) = &state else { continue };
            let mut out = std::io::stdout().lock();
            if json {
                // A state that differs from the last only in `now` and `seq` (the
                // heartbeat) says nothing new.
                let mut bare = state.clone();
                if let Some(o) = bare.as_object_mut() {
                    o.remove("now");
                    o.remove("seq");
                }
                if last_json.as_ref() != Some(&bare) {
                    let _ = writeln!(out, "{state}");
                    last_json = Some(bare);
                }
            } else {
                let table = status_table(state);
                let lines: Vec<String> = table.lines().map(String::from).collect();
                match &shown {
                    None => {
                        let _ = writeln!(out, "{table}");
                    }
                    Some(before) => {
                        // The clock line, then only what changed.
                        let _ = writeln!(out, "{}", lines.first().map_or("", |l| l));
                        for l in lines.iter().skip(1) {
                            if !before.contains(l) {
                                let _ = writeln!(out, "  {l}");
                            }
                        }
                    }
                }
                shown = Some(lines.into_iter().skip(1).collect());
            }
            let _ = out.flush();
        }
    }
}

/// A controllers file's text, UTF-8.
fn read_controllers(file: &std::path::Path) -> Result<String, Error> {
    let bytes = super::read_file(file, 1 << 20, "controllers file")?;
    String::from_utf8(bytes)
        .map_err(|_| Error::usage(format!("{} is not UTF-8 text", file.display()), None))
}

/// Replace a controllers file whole: written beside it, synced, then renamed over it.
fn write_controllers(file: &std::path::Path, text: &str) -> Result<(), Error> {
    let tmp = file.with_extension("yaml.tmp");
    let cannot =
        |e: std::io::Error| Error::usage(format!("cannot write {}: {e}", file.display()), None);
    let mut f = std::fs::File::create(&tmp).map_err(cannot)?;
    std::io::Write::write_all(&mut f, text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(cannot)?;
    std::fs::rename(&tmp, file).map_err(cannot)
}

/// `injector controllers add|remove|rotate|list`.
pub fn controllers(args: ControllersArgs) -> Result<Exit, Error> {
    match args.action {
        ControllersAction::Add { name, role, file } => {
            let current = match std::fs::read(&file) {
                Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
                    Error::usage(format!("{} is not UTF-8 text", file.display()), None)
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => {
                    return Err(Error::usage(
                        format!("cannot read {}: {e}", file.display()),
                        None,
                    ));
                }
            };
            let token = crate::stand_in::random_token();
            let added = crate::controllers::add(&current, &name, role, &token)
                .map_err(|e| Error::usage(format!("{}: {e}", file.display()), None))?;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&file)
                .map_err(|e| Error::usage(format!("cannot write {}: {e}", file.display()), None))?;
            std::io::Write::write_all(&mut f, added.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| Error::usage(format!("cannot write {}: {e}", file.display()), None))?;
            eprintln!(
                "added {} ({}) to {}{}; their token is below, shown only now (the file keeps its SHA-256)",
                name.trim(),
                role.name(),
                file.display(),
                if current.is_empty() {
                    " (a new file)"
                } else {
                    ""
                }
            );
            println!("{token}");
            Ok(Exit::Ok)
        }
        ControllersAction::Remove { name, file } => {
            let current = read_controllers(&file)?;
            let out = crate::controllers::remove(&current, &name)
                .map_err(|e| Error::usage(format!("{}: {e}", file.display()), None))?;
            write_controllers(&file, &out)?;
            eprintln!(
                "removed {} from {}: their token is refused from the next run or resume on",
                name.trim(),
                file.display()
            );
            if !crate::controllers::identities_of(&out)
                .iter()
                .any(|who| who.role == crate::controllers::Role::Director)
            {
                eprintln!(
                    "warning: no one in {} is a director now: a run with it is refused until one is added (`injector controllers add NAME --role director`)",
                    file.display()
                );
            }
            Ok(Exit::Ok)
        }
        ControllersAction::Rotate { name, file } => {
            let current = read_controllers(&file)?;
            let token = crate::stand_in::random_token();
            let out = crate::controllers::rotate(&current, &name, &token)
                .map_err(|e| Error::usage(format!("{}: {e}", file.display()), None))?;
            write_controllers(&file, &out)?;
            eprintln!(
                "a new token for {} in {}, below, shown only now; the old one is refused from the next run or resume on",
                name.trim(),
                file.display()
            );
            println!("{token}");
            Ok(Exit::Ok)
        }
        ControllersAction::List { file } => {
            let bytes = super::read_file(&file, 1 << 20, "controllers file")?;
            let text = String::from_utf8_lossy(&bytes);
            let who = match crate::controllers::read(&file, &text) {
                Ok(c) => c.identities().cloned().collect(),
                // A file a run would refuse is still listed, so that it can be mended.
                Err(e) => {
                    let who = crate::controllers::identities_of(&text);
                    if who.is_empty() {
                        return Err(Error::usage(e, None));
                    }
                    eprintln!("warning: {e}");
                    who
                }
            };
            for w in who {
                println!("{}\t{}", w.name, w.role.name());
            }
            Ok(Exit::Ok)
        }
    }
}
