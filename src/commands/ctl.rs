//! `injector ctl`: one action on a running exercise, through its control endpoint (or its
//! state, once or as it changes); and `injector controllers`: who may.

use serde_json::Value;

use crate::action::Action;
use crate::cli::{ControllersAction, ControllersArgs, CtlAction, CtlArgs};
use crate::error::{Error, Exit};
use crate::{action, client};

pub async fn ctl(args: CtlArgs) -> Result<Exit, Error> {
    let token = super::token_from(
        args.token_file.as_deref(),
        "INJECTOR_CONTROL_TOKEN",
        "no control token",
        "pass --token-file PATH or set INJECTOR_CONTROL_TOKEN (run --control prints it)",
    )?;
    // As `run --control` printed it, or just HOST:PORT (then plain http, as the run serves).
    let written = args.control.trim();
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
    // The same typed action the page and the keys send; `None` asks for the state.
    let watch = matches!(args.action, CtlAction::Watch);
    let action = match args.action {
        CtlAction::Status | CtlAction::Watch => None,
        CtlAction::End => Some(Action::End),
        CtlAction::Note {
            text,
            key,
            expectation,
        } => Some(
            Action::from_request(
                "note",
                &serde_json::json!({"text": text, "key": key, "expectation": expectation}),
            )
            .map_err(|e| Error::usage(e, None))?,
        ),
        CtlAction::Hold => Some(Action::Hold),
        CtlAction::Resume => Some(Action::Resume),
        CtlAction::Skip { key } => Some(Action::Skip(key)),
        CtlAction::Unskip { key } => Some(Action::Unskip(key)),
        CtlAction::Fire { key } => Some(Action::Fire(key)),
        CtlAction::Shift { by } => Some(Action::Shift(
            action::parse_shift(&by).map_err(|e| Error::usage(e, None))?,
        )),
        CtlAction::Met { id, note } => Some(Action::Met(id, note)),
        CtlAction::Missed { id, note } => Some(Action::Missed(id, note)),
    };
    client::install_crypto();
    let mut builder = reqwest::Client::builder();
    // A watch lasts as long as the run; a request, seconds.
    if !watch {
        builder = builder.timeout(std::time::Duration::from_secs(15));
    }
    if let Some(f) = &args.fingerprint {
        let sha = crate::tls::parse_fingerprint(f).map_err(|e| Error::usage(e, None))?;
        if !base.starts_with("https://") {
            return Err(Error::usage(
                "--fingerprint pins a TLS certificate, but the control URL is plain http",
                Some("give the https:// URL the run printed"),
            ));
        }
        builder = builder.use_preconfigured_tls(crate::tls::pinned_client(sha));
    }
    let http = builder
        .build()
        .map_err(|e| client::Error::Build(e.to_string()))?;
    let request = match &action {
        None if watch => http.get(format!("{base}/api/events")),
        None => http.get(format!("{base}/api/state")),
        Some(a) => http
            .post(format!("{base}/api/{}", a.name()))
            .json(&a.request_body())
            .header("x-injector-source", "command"),
    };
    let resp = request.bearer_auth(&token).send().await.map_err(|e| {
        let tls = format!("{e:?}").contains("certificate") || format!("{e:?}").contains("Certificate");
        Error::usage(
            format!("cannot reach the run at {base}: {}", client::describe(&e)),
            (tls && base.starts_with("https://")).then_some(
                "the run's certificate was not trusted: pass --fingerprint with the fingerprint the run printed",
            ),
        )
    })?;
    let status = resp.status();
    if watch && status.is_success() {
        return watch_events(resp).await;
    }
    let answer: Value = resp.json().await.unwrap_or(Value::Null);
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(Error::usage(
            "the control token was refused",
            Some("use the token the run printed at start"),
        ));
    }
    match (&action, status.is_success()) {
        (None, true) => super::write_output(
            None,
            &(serde_json::to_string_pretty(&answer).unwrap_or_default() + "\n"),
        )?,
        (Some(_), true) => super::write_output(
            None,
            &format!("{}\n", answer["message"].as_str().unwrap_or("done")),
        )?,
        (_, false) => {
            eprintln!(
                "refused: {}",
                answer["error"].as_str().unwrap_or("unknown error")
            );
            return Ok(Exit::Invalid);
        }
    }
    Ok(Exit::Ok)
}

/// Print each state the run pushes as one JSON line, until the run ends.
async fn watch_events(mut resp: reqwest::Response) -> Result<Exit, Error> {
    use std::io::Write;
    let mut pending = String::new();
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) | Err(_) => return Ok(Exit::Ok),
        };
        pending.push_str(&String::from_utf8_lossy(&chunk));
        // Events end with a blank line; each state is one `data:` line.
        while let Some(end) = pending.find("\n\n") {
            let event: String = pending.drain(..end + 2).collect();
            for line in event.lines() {
                if let Some(data) = line.strip_prefix("data:") {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{}", data.trim_start());
                    let _ = out.flush();
                }
            }
        }
    }
}

/// `injector controllers add|list`.
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
                "added {} ({}) to {}; their token is below, shown only now (the file keeps its SHA-256)",
                name.trim(),
                role.name(),
                file.display()
            );
            println!("{token}");
            Ok(Exit::Ok)
        }
        ControllersAction::List { file } => {
            let bytes = super::read_file(&file, 1 << 20, "controllers file")?;
            let text = String::from_utf8_lossy(&bytes);
            let c = crate::controllers::read(&file, &text).map_err(|e| Error::usage(e, None))?;
            for who in c.identities() {
                println!("{}\t{}", who.name, who.role.name());
            }
            Ok(Exit::Ok)
        }
    }
}
