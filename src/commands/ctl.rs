//! `injector ctl`: one action on a running exercise, through its control endpoint.

use serde_json::Value;

use crate::action::Action;
use crate::cli::{CtlAction, CtlArgs};
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
    let action = match args.action {
        CtlAction::Status => None,
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
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .map_err(|e| client::Error::Build(e.to_string()))?;
    let request = match &action {
        None => http.get(format!("{base}/api/state")),
        Some(a) => http
            .post(format!("{base}/api/{}", a.name()))
            .json(&a.request_body())
            .header("x-injector-source", "command"),
    };
    let resp = request.bearer_auth(&token).send().await.map_err(|e| {
        Error::usage(
            format!("cannot reach the run at {base}: {}", client::describe(&e)),
            None,
        )
    })?;
    let status = resp.status();
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
