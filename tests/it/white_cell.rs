//! The white cell against a real run: roles enforced for every action, tokens that say
//! who (and never show), TLS with a pinned fingerprint, resume keeping identities.

use std::path::Path;
use std::time::Duration;

use crate::common::{injector_in, tempdir, write};
use crate::run::{command, ctl, journal, t0_in};

/// A scenario that waits: four injects 30 s apart from a minute after start, the first
/// expecting an action.
fn slow() -> String {
    let mut s = String::from(
        "name: White cell\nteams:\n  blue: 3437866\ndefaults:\n  type: team\n  team_id: blue\n  persona: \"3-49786\"\n  channel: microblog\ninjects:\n",
    );
    for i in 0..4 {
        s.push_str(&format!(
            "  - id: i{i}\n    at: {}s\n    body: \"inject {i}\"\n",
            60 + 30 * i
        ));
        if i == 0 {
            s.push_str("    expect: { id: e0, action: Blue answers, within: 10m }\n  - id: branch\n    when: { missed: e0 }\n    body: worse\n");
        }
    }
    s
}

/// `controllers add` for each (name, role) into `controllers.yaml`; their tokens.
pub(crate) fn add_controllers(dir: &Path, who: &[(&str, &str)]) -> Vec<String> {
    who.iter()
        .map(|(name, role)| {
            let run = injector_in(
                dir,
                &[
                    "controllers",
                    "add",
                    name,
                    "--role",
                    role,
                    "--file",
                    "controllers.yaml",
                ],
            );
            run.code(0);
            assert!(
                run.stderr.contains(&format!("added {name} ({role})")),
                "{}",
                run.stderr
            );
            let token = run.stdout.trim().to_string();
            assert_eq!(token.len(), 32, "a 128-bit token");
            token
        })
        .collect()
}

/// Start `run ... --control 127.0.0.1:0` with `extra` flags; the child, its control URL,
/// the fingerprint it printed (if TLS), and everything it printed so far.
async fn start(
    dir: &Path,
    extra: &[&str],
) -> (
    tokio::process::Child,
    String,
    Option<String>,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    use tokio::io::AsyncBufReadExt;
    let t0 = t0_in(1);
    let mut args = vec![
        "run",
        "s.yaml",
        "--dry-run",
        "--control",
        "127.0.0.1:0",
        "--end-when-done",
    ];
    // A resume keeps its T0.
    if !extra.contains(&"--resume") {
        args.extend(["--start-at", &t0]);
    }
    args.extend_from_slice(extra);
    let mut child = command(dir, &args, &[]).spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let printed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (mut url, mut fingerprint) = (String::new(), None);
    while let Ok(Some(line)) = lines.next_line().await {
        printed.lock().unwrap().push_str(&format!("{line}\n"));
        if let Some(u) = line.strip_prefix("control: ") {
            url = u.trim().to_string();
        }
        if let Some(f) = line.strip_prefix("control fingerprint: ") {
            fingerprint = Some(f.trim().to_string());
        }
        // The last line about control: the token, or (with a controllers file) the page.
        if line.starts_with("control token: ")
            || line.starts_with("control page: ") && line.contains("YOUR-TOKEN")
        {
            break;
        }
    }
    let keep = printed.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            keep.lock().unwrap().push_str(&format!("{line}\n"));
        }
    });
    assert!(!url.is_empty(), "the run printed its control URL");
    (child, url, fingerprint, printed)
}

/// The control token a run printed (one made at random).
fn printed_token(printed: &std::sync::Mutex<String>) -> String {
    printed
        .lock()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("control token: ").map(String::from))
        .expect("a control token printed")
}

/// POST one action with `token` (none: no header); the HTTP status.
async fn post(url: &str, token: Option<&str>, action: &str, body: serde_json::Value) -> u16 {
    let http = crate::stand_in::client();
    let mut req = http.post(format!("{url}api/{action}")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_role_may_do_exactly_its_actions_and_no_token_ever_shows() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "s.yaml", &slow());
    let tokens = add_controllers(
        d,
        &[
            ("Dana", "director"),
            ("Cory", "controller"),
            ("Olive", "observer"),
            ("Rita", "observer"),
        ],
    );
    // Rita's entry is taken out again: her token is revoked.
    let file = std::fs::read_to_string(d.join("controllers.yaml")).unwrap();
    let kept: String = file.split("  - name: \"Rita\"").next().unwrap().to_string();
    std::fs::write(d.join("controllers.yaml"), kept).unwrap();
    let (child, url, _, printed) = start(d, &["--controllers", "controllers.yaml"]).await;
    let (dana, cory, olive, rita) = (&tokens[0], &tokens[1], &tokens[2], &tokens[3]);
    // (action, body, director, controller, observer): whether each may.
    let key = serde_json::json!({"key": "i3"});
    let table: Vec<(&str, serde_json::Value, bool, bool, bool)> = vec![
        (
            "note",
            serde_json::json!({"text": "Blue is quiet"}),
            true,
            true,
            true,
        ),
        ("skip", key.clone(), true, true, false),
        ("unskip", key.clone(), true, true, false),
        ("fire", serde_json::json!({"key": "i0"}), true, true, false),
        ("met", serde_json::json!({"key": "e0"}), true, true, false),
        (
            "missed",
            serde_json::json!({"key": "e0"}),
            true,
            true,
            false,
        ),
        ("hold", serde_json::json!({}), true, false, false),
        ("resume", serde_json::json!({}), true, false, false),
        ("shift", serde_json::json!({"by": "1s"}), true, false, false),
        ("retry", serde_json::json!({"key": "i1"}), true, true, false),
        ("undo", serde_json::json!({}), true, false, false),
    ];
    for (action, body, director, controller, observer) in &table {
        for (who, token, may) in [
            ("Olive", olive, observer),
            ("Cory", cory, controller),
            ("Dana", dana, director),
        ] {
            let status = post(&url, Some(token), action, body.clone()).await;
            if *may {
                assert!(
                    matches!(status, 200 | 409),
                    "{who} may {action}: got {status}"
                );
            } else {
                assert_eq!(status, 403, "{who} may not {action}");
            }
        }
    }
    // Wrong, missing and revoked tokens.
    assert_eq!(
        post(
            &url,
            Some("not-a-token"),
            "note",
            serde_json::json!({"text": "x"})
        )
        .await,
        401
    );
    assert_eq!(
        post(&url, None, "note", serde_json::json!({"text": "x"})).await,
        401
    );
    assert_eq!(
        post(&url, Some(rita), "note", serde_json::json!({"text": "x"})).await,
        401
    );
    let refused = ctl(d, &url, olive, &["hold"]).await;
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("Olive (observer) may not `hold`: it needs the director role"),
        "{}",
        refused.stderr
    );
    // End: a controller may not, the director may; the run stops.
    assert_eq!(
        post(
            &url,
            Some(cory),
            "end",
            serde_json::json!({"confirm": true})
        )
        .await,
        403
    );
    assert_eq!(
        post(
            &url,
            Some(dana),
            "end",
            serde_json::json!({"confirm": true})
        )
        .await,
        200
    );
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "ended with occurrences not sent"
    );
    // Every action says who did it; the report too.
    let lines = journal(d, "s.dry-run.journal.jsonl");
    let by: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l["type"] == "control" || l["type"] == "note")
        .map(|l| {
            (
                l["action"].as_str().unwrap_or("note"),
                l["by"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        by.contains(&("note", "Olive"))
            && by.contains(&("hold", "Dana"))
            && by.contains(&("met", "Cory")),
        "{by:?}"
    );
    assert!(by.contains(&("end", "Dana")));
    let report = injector_in(d, &["report", "s.dry-run.journal.jsonl"]);
    let noted = |l: &str| l.contains("Olive (command)") && l.contains("Blue is quiet");
    let said = report.stdout.contains("by Dana") && report.stdout.lines().any(noted);
    assert!(said, "{}", report.stdout);
    // No token anywhere: what the run printed, the files it wrote, the report.
    let mut seen = printed.lock().unwrap().clone();
    seen.push_str(&String::from_utf8_lossy(&out.stdout));
    seen.push_str(&report.stdout);
    for entry in std::fs::read_dir(d).unwrap() {
        seen.push_str(&String::from_utf8_lossy(
            &std::fs::read(entry.unwrap().path()).unwrap(),
        ));
    }
    for t in &tokens {
        assert!(!seen.contains(t.as_str()), "a token leaked");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_a_pinned_fingerprint_and_plain_http_only_on_loopback() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "s.yaml", &slow());
    let (child, url, fingerprint, printed) = start(d, &["--control-tls", "self-signed"]).await;
    assert!(url.starts_with("https://"), "{url}");
    let fingerprint = fingerprint.expect("a fingerprint printed");
    let token = printed_token(&printed);
    let ok = ctl(
        d,
        &url,
        &token,
        &["--fingerprint", &fingerprint, "--format", "json", "status"],
    )
    .await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stdout.contains("\"role\": \"director\""),
        "{}",
        ok.stdout
    );
    let wrong = format!("SHA256:{}", vec!["00"; 32].join(":"));
    let refused = ctl(d, &url, &token, &["--fingerprint", &wrong, "status"]).await;
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("not the one given"),
        "{}",
        refused.stderr
    );
    let unpinned = ctl(d, &url, &token, &["status"]).await;
    assert_eq!(unpinned.code, 2);
    assert!(
        unpinned.stderr.contains("pass --fingerprint"),
        "{}",
        unpinned.stderr
    );
    assert_eq!(
        ctl(
            d,
            &url,
            &token,
            &["--fingerprint", &fingerprint, "--yes", "end"]
        )
        .await
        .code,
        0
    );
    let _ = child.wait_with_output().await;
    // The certificate is kept beside the journal, for its owner only: the resume serves
    // the same one, and the fingerprint everyone pinned still holds.
    let kept = d.join("s.dry-run.journal.jsonl.control-tls.pem");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kept).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let (child, url, again, printed) =
        start(d, &["--control-tls", "self-signed", "--resume"]).await;
    assert_eq!(again.as_deref(), Some(fingerprint.as_str()));
    let token = printed_token(&printed);
    let ok = ctl(d, &url, &token, &["--fingerprint", &fingerprint, "status"]).await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(
        ctl(
            d,
            &url,
            &token,
            &["--fingerprint", &fingerprint, "--yes", "end"]
        )
        .await
        .code,
        0
    );
    let _ = child.wait_with_output().await;

    // Plain HTTP on a non-loopback address: refused before anything is written.
    let dir = tempdir();
    write(dir.path(), "s.yaml", &slow());
    let run = injector_in(
        dir.path(),
        &["run", "s.yaml", "--dry-run", "--control", "0.0.0.0:0"],
    );
    run.code(2);
    assert!(
        run.stderr.contains("plain HTTP stays on this machine")
            && run.stderr.contains("--control-tls self-signed"),
        "{}",
        run.stderr
    );
    assert!(
        !dir.path().join("s.dry-run.journal.jsonl").exists(),
        "nothing journaled"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_keeps_who_is_who_and_a_rotated_token_takes_effect() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "s.yaml", &slow());
    let first = add_controllers(d, &[("Dana", "director")]);
    let (child, url, _, _) = start(d, &["--controllers", "controllers.yaml"]).await;
    assert_eq!(
        post(&url, Some(&first[0]), "hold", serde_json::json!({})).await,
        200
    );
    assert_eq!(
        post(
            &url,
            Some(&first[0]),
            "end",
            serde_json::json!({"confirm": true})
        )
        .await,
        200
    );
    let _ = child.wait_with_output().await;
    // Dana's token rotated: a new file with her name and a new token.
    std::fs::remove_file(d.join("controllers.yaml")).unwrap();
    let second = add_controllers(d, &[("Dana", "director")]);
    let (child, url, _, _) = start(d, &["--controllers", "controllers.yaml", "--resume"]).await;
    assert_eq!(
        post(&url, Some(&first[0]), "resume", serde_json::json!({})).await,
        401
    );
    assert_eq!(
        post(&url, Some(&second[0]), "resume", serde_json::json!({})).await,
        200
    );
    assert_eq!(
        post(
            &url,
            Some(&second[0]),
            "end",
            serde_json::json!({"confirm": true})
        )
        .await,
        200
    );
    let _ = child.wait_with_output().await;
    let by: Vec<String> = journal(d, "s.dry-run.journal.jsonl")
        .iter()
        .filter(|l| l["type"] == "control")
        .map(|l| {
            format!(
                "{} {}",
                l["action"].as_str().unwrap(),
                l["by"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(by, ["hold Dana", "end Dana", "resume Dana", "end Dana"]);
    let _ = Duration::ZERO;
}

/// `ctl watch` prints the state as it changes, one JSON line each, until the run ends.
#[tokio::test(flavor = "multi_thread")]
async fn ctl_watch_follows_the_run_until_it_ends() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempdir();
    let d = dir.path();
    write(d, "s.yaml", &slow());
    let (child, url, _, printed) = start(d, &[]).await;
    let token = printed_token(&printed);
    let mut watch = command(
        d,
        &["ctl", "--control", &url, "--format", "json", "watch"],
        &[("INJECTOR_CONTROL_TOKEN", &token)],
    )
    .spawn()
    .unwrap();
    let mut lines = tokio::io::BufReader::new(watch.stdout.take().unwrap()).lines();
    let first: serde_json::Value =
        serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(first["held"], false);
    assert_eq!(ctl(d, &url, &token, &["hold"]).await.code, 0);
    let held = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let line = lines.next_line().await.unwrap().unwrap();
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if v["held"] == true {
                return v;
            }
        }
    })
    .await
    .expect("the hold was pushed");
    assert_eq!(held["you"]["name"], "director");
    assert_eq!(ctl(d, &url, &token, &["--yes", "end"]).await.code, 0);
    let _ = child.wait_with_output().await;
    let status = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(_)) = lines.next_line().await {}
        watch.wait().await.unwrap()
    })
    .await
    .expect("watch ends with the run");
    assert!(status.success());
}

/// A certificate of one's own (PEM files): served, and trusted by its fingerprint; a file
/// that is not PEM is refused at start with what is wrong.
#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_from_pem_files() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "s.yaml", &slow());
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    write(d, "cert.pem", &made.cert.pem());
    write(d, "key.pem", &made.signing_key.serialize_pem());
    let expected = injector::tls::fingerprint(made.cert.der());
    let (child, url, fingerprint, printed) = start(
        d,
        &[
            "--control-tls-cert",
            "cert.pem",
            "--control-tls-key",
            "key.pem",
        ],
    )
    .await;
    assert_eq!(fingerprint.as_deref(), Some(expected.as_str()));
    let token = printed_token(&printed);
    // Pasted as plain lower-case hex, without colons: the same fingerprint.
    let plain = expected
        .trim_start_matches("SHA256:")
        .replace(':', "")
        .to_lowercase();
    let ok = ctl(d, &url, &token, &["--fingerprint", &plain, "--yes", "end"]).await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let _ = child.wait_with_output().await;

    write(d, "bad.pem", "not a certificate\n");
    let run = injector_in(
        d,
        &[
            "run",
            "s.yaml",
            "--dry-run",
            "--fresh",
            "--control",
            "127.0.0.1:0",
            "--control-tls-cert",
            "bad.pem",
            "--control-tls-key",
            "key.pem",
        ],
    );
    run.code(2);
    assert!(
        run.stderr.contains("--control-tls-cert bad.pem") && run.stderr.contains("no certificate"),
        "{}",
        run.stderr
    );
}
