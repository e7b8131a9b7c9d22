//! The control page in a real headless Chromium, driven over WebDriver (chromedriver):
//! load it, click Hold, see the state change, click Fire now, see the send.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::root;
use crate::run::{
    control_actions, ctl, key_of, run_with_control, scenario, sent, setup, stand_in, t0_in,
};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub(crate) struct Driver {
    child: std::process::Child,
    base: String,
    http: reqwest::Client,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub(crate) async fn start(profile: &Path) -> Driver {
        let bin = crate::common::tool("chromium-driver");
        let chromium = crate::common::tool("chromium");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(bin)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let http = crate::stand_in::client();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     format!("--user-data-dir={}", profile.display()), "--window-size=1100,900"]
        }}}});
        let mut driver = Driver {
            child,
            base,
            http,
            session: String::new(),
        };
        let answer = driver.call("POST", "/session", Some(caps)).await;
        driver.session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        driver
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or(json!({}))),
        };
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        v["value"].clone()
    }

    pub(crate) async fn session(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    async fn find(&self, css: &str) -> Option<String> {
        let v = self
            .session(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().map(String::from)
    }

    async fn text(&self, css: &str) -> String {
        match self.find(css).await {
            Some(id) => self
                .session("GET", &format!("/element/{id}/text"), None)
                .await
                .as_str()
                .unwrap_or("")
                .to_string(),
            None => String::new(),
        }
    }

    /// Whether the element is shown (present and not hidden).
    async fn displayed(&self, css: &str) -> bool {
        match self.find(css).await {
            Some(id) => self
                .session("GET", &format!("/element/{id}/displayed"), None)
                .await
                .as_bool()
                .unwrap_or(false),
            None => false,
        }
    }

    /// Type `text` into the element.
    async fn type_into(&self, css: &str, text: &str) {
        let id = self
            .find(css)
            .await
            .unwrap_or_else(|| panic!("no element {css}"));
        self.session(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Click the element; again when the page re-rendered it between finding and
    /// clicking (it refreshes every second: a stale element).
    pub(crate) async fn click(&self, css: &str) {
        for _ in 0..20 {
            let id = self
                .find(css)
                .await
                .unwrap_or_else(|| panic!("no element {css}"));
            let answer = self
                .session("POST", &format!("/element/{id}/click"), Some(json!({})))
                .await;
            if answer.get("error").is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css} could not be clicked");
    }

    /// Wait for the page's confirmation dialog and accept it; its text.
    async fn accept_dialog(&self) -> String {
        for _ in 0..100 {
            let text = self.session("GET", "/alert/text", None).await;
            if let Some(t) = text.as_str() {
                self.session("POST", "/alert/accept", Some(json!({}))).await;
                return t.to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no confirmation dialog appeared");
    }

    /// Wait for the page's prompt, answer it with `text`; the prompt's text.
    async fn answer_prompt(&self, text: &str) -> String {
        for _ in 0..100 {
            let asked = self.session("GET", "/alert/text", None).await;
            if let Some(t) = asked.as_str() {
                self.session("POST", "/alert/text", Some(json!({"text": text})))
                    .await;
                self.session("POST", "/alert/accept", Some(json!({}))).await;
                return t.to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no prompt appeared");
    }

    /// Wait until the element's text satisfies `ok` (up to 30 s: a browser's first start
    /// on a fresh machine builds its caches).
    async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        for _ in 0..300 {
            let t = self.text(css).await;
            if ok(&t) {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{css} never showed the expected text (last: {:?})",
            self.text(css).await
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hold_and_fire_now_from_the_page() {
    // The browser first: on a fresh machine installing it takes longer than the run lasts.
    crate::common::tool("chromium-driver");
    let server = stand_in(Default::default()).await;
    let s = setup(&scenario(4, 4000));
    let dir = s.dir.path();
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap();
    let t0 = t0_in(1);
    let (child, control, token) = run_with_control(
        dir,
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--start-at",
            &t0,
        ],
    )
    .await;
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver::start(profile.path()).await;
    driver
        .session(
            "POST",
            "/url",
            Some(json!({"url": format!("{control}#token={token}")})),
        )
        .await;
    driver.wait_text("#state", |t| t == "running").await;
    // In the controller's words: the scenario's name, T0 with its date and zone, the
    // exercise clock, the next inject with a countdown.
    driver
        .wait_text("#title", |t| t == "Run test — live control")
        .await;
    let t0_shown = driver.text("#t0").await;
    assert!(
        t0_shown.len() == "2026-03-28 09:00:00 UTC".len() && t0_shown.ends_with(" UTC"),
        "{t0_shown}"
    );
    driver
        .wait_text("#clock", |t| t.starts_with("T+00:00:"))
        .await;
    // Which one is next depends on how long the browser took to start.
    driver
        .wait_text("#next", |t| {
            t.starts_with("next: i") && t.contains(" in 00:00:0")
        })
        .await;
    driver
        .wait_text("tr[data-key=\"i0\"] .status", |t| t == "sent")
        .await;
    assert_eq!(driver.text("#resume").await, "Release hold");

    driver.click("#hold").await;
    driver.wait_text("#state", |t| t == "held").await;
    // A shift that would put pending injects in the past is refused, in words; one
    // that would not shows what it moves in a dialog first; Undo puts it back.
    driver.click("#back5").await;
    driver
        .wait_text("#msg", |t| t.contains("into the past"))
        .await;
    driver.click("#fwd5").await;
    let dialog = driver.accept_dialog().await;
    assert!(
        dialog.starts_with("Shift: this moves ") && dialog.contains("5m later"),
        "{dialog}"
    );
    driver
        .wait_text("#msg", |t| {
            t.starts_with("shifted: everything not yet fired moves 5m later")
        })
        .await;
    driver
        .wait_text("#shift", |t| t == "(moved 5m later)")
        .await;
    driver.click("#undo").await;
    let dialog = driver.accept_dialog().await;
    assert!(
        dialog.starts_with("Undo: this undoes the shift of 5m later by director"),
        "{dialog}"
    );
    driver
        .wait_text("#msg", |t| t.starts_with("undone: the shift of 5m later"))
        .await;
    driver.wait_text("#shift", |t| t.is_empty()).await;
    let before = sent(&server).len();
    driver.click("button[data-fire=\"i3\"]").await;
    driver
        .wait_text("tr[data-key=\"i3\"] .status", |t| t == "sent")
        .await;
    let after = sent(&server);
    assert_eq!(after.len(), before + 1);
    assert_eq!(
        key_of(after.last().unwrap()),
        "i3",
        "the fire-now reached the server"
    );

    let shot = driver.session("GET", "/screenshot", None).await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot.as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000);
    let artifacts = root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("control-page.png"), png).unwrap();
    driver.session("DELETE", "", None).await;

    assert_eq!(ctl(dir, &control, &token, &["resume"]).await.code, 0);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    let sources = control_actions(dir, "s.journal.jsonl");
    assert_eq!(
        sources,
        [
            "hold page",
            "shift page",
            "undo page",
            "fire page",
            "resume command"
        ]
    );
    server.shutdown(Duration::from_secs(1)).await;
}

/// A dry run of `s.yaml` in `dir`, in a real tmux pane of its own (the run's T0 two
/// seconds away), to type into and read.
struct Terminal {
    tmux: std::path::PathBuf,
    socket: std::path::PathBuf,
    session: &'static str,
}

impl Terminal {
    fn start(dir: &Path, session: &'static str) -> Terminal {
        let term = Terminal {
            tmux: crate::common::tool("tmux"),
            socket: dir.join("tmux.sock"),
            session,
        };
        let cmd = format!(
            "cd {} && NO_COLOR=1 {} run s.yaml --dry-run --start-at {}; sleep 60",
            dir.display(),
            crate::common::bin().display(),
            t0_in(2)
        );
        let started = term.tm(&[
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "200",
            "-y",
            "40",
            &cmd,
        ]);
        assert!(started.status.success());
        term
    }

    fn tm(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(&self.tmux)
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    /// `tmux send-keys` to the pane, or another tmux command (`kill-server`).
    fn keys(&self, args: &[&str]) -> std::process::Output {
        let args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "SESSION" { self.session } else { a })
            .collect();
        self.tm(&args)
    }

    fn pane(&self) -> String {
        String::from_utf8_lossy(&self.tm(&["capture-pane", "-t", self.session, "-p"]).stdout)
            .into_owned()
    }

    fn wait_for(&self, needle: &str) {
        for _ in 0..250 {
            if self.pane().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the terminal never showed {needle:?}:\n{}", self.pane());
    }
}

/// The terminal: a real tmux pane, single keys typed into it.
#[tokio::test(flavor = "multi_thread")]
async fn single_keys_in_a_terminal_hold_fire_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.yaml"), scenario(4, 3000)).unwrap();
    let term = Terminal::start(dir.path(), "injector-keys");
    let tm = |args: &[&str]| term.keys(args);
    let wait_for = |needle: &str| term.wait_for(needle);
    wait_for("RUNNING");
    wait_for("sent i0");
    tm(&["send-keys", "-t", "SESSION", " "]);
    wait_for("HELD");
    tm(&["send-keys", "-t", "SESSION", "f"]);
    wait_for("i1 fired");
    tm(&["send-keys", "-t", "SESSION", " "]);
    wait_for("released after");
    // Skip the next one, then think again: `u` undoes exactly that skip.
    tm(&["send-keys", "-t", "SESSION", "s"]);
    wait_for("i2 will be skipped");
    tm(&["send-keys", "-t", "SESSION", "u"]);
    wait_for("i2 will fire");
    wait_for("dry run: 4 sent");
    tm(&["kill-server"]);
    let sources = control_actions(dir.path(), "s.dry-run.journal.jsonl");
    assert_eq!(
        sources,
        [
            "hold terminal",
            "fire terminal",
            "resume terminal",
            "skip terminal",
            "unskip terminal"
        ]
    );
}

/// A call expecting an evacuation order within a minute, with a branch each way.
const BRANCHING: &str = "name: Branching page
teams:
  blue: 3437866
defaults:
  type: team
  team_id: blue
  persona: \"3-49786\"
  channel: microblog
injects:
  - id: evac-call
    at: 1s
    body: Decide on the evacuation
    expect: { id: evacuation-ordered, action: Blue orders the evacuation, within: 60s, team: blue }
  - id: well-done
    when: { met: evacuation-ordered }
    after: 1s
    body: Police confirm the evacuation
  - id: flood-worsens
    when: { missed: evacuation-ordered }
    body: The flood worsens
  - id: wrap-up
    at: 8s
    body: End of the exercise
";

#[tokio::test(flavor = "multi_thread")]
async fn judge_met_on_the_page_and_see_the_branch_sent() {
    crate::common::tool("chromium-driver");
    let server = stand_in(Default::default()).await;
    let s = setup(BRANCHING);
    let dir = s.dir.path();
    let url = server.base_url();
    let tf = s.token_file.to_str().unwrap();
    let (child, control, token) = run_with_control(
        dir,
        &[
            "run",
            "s.yaml",
            "--base-url",
            &url,
            "--token-file",
            tf,
            "--start-at",
            &t0_in(1),
        ],
    )
    .await;
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver::start(profile.path()).await;
    driver
        .session(
            "POST",
            "/url",
            Some(json!({"url": format!("{control}#token={token}")})),
        )
        .await;
    driver.wait_text("#state", |t| t == "running").await;
    // Open, with a countdown once the call is sent; both branches armed.
    driver
        .wait_text("tr[data-id=\"evacuation-ordered\"] .outcome", |t| {
            t == "open"
        })
        .await;
    driver
        .wait_text("tr[data-id=\"evacuation-ordered\"] td:nth-child(4)", |t| {
            t.starts_with("in 00:00:")
        })
        .await;
    driver
        .wait_text("tr[data-inject=\"well-done\"] .state", |t| t == "armed")
        .await;
    driver
        .click("button[data-met=\"evacuation-ordered\"]")
        .await;
    // Its branch fires within a minute: the page asks first, saying so.
    let dialog = driver.accept_dialog().await;
    assert!(
        dialog.starts_with("Met: this judges evacuation-ordered met: well-done")
            && dialog.contains("fires in"),
        "{dialog}"
    );
    driver
        .wait_text("tr[data-id=\"evacuation-ordered\"] .outcome", |t| {
            t == "met"
        })
        .await;
    driver
        .wait_text("#msg", |t| {
            t == "evacuation-ordered judged met; triggered well-done"
        })
        .await;
    driver
        .wait_text("tr[data-inject=\"flood-worsens\"] .state", |t| {
            t == "not triggered"
        })
        .await;
    driver
        .wait_text("tr[data-key=\"well-done\"] .status", |t| t == "sent")
        .await;
    // The run ends by itself (--end-when-done): the page says so at once, its clock
    // stops, its controls go.
    driver
        .wait_text("#banner", |t| {
            t.starts_with("The exercise is over: completed at ")
        })
        .await;
    driver.wait_text("#state", |t| t == "ended").await;
    assert!(!driver.displayed("#hold").await, "no controls once ended");
    driver.session("DELETE", "", None).await;
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    let bodies: Vec<String> = sent(&server)
        .iter()
        .map(|r| r.body["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        bodies,
        [
            "Decide on the evacuation",
            "Police confirm the evacuation",
            "End of the exercise"
        ]
    );
    assert_eq!(control_actions(dir, "s.journal.jsonl"), ["met page"]);
    server.shutdown(Duration::from_secs(1)).await;
}

/// The terminal: `x` judges the expected action it shows missed; its branch follows.
#[tokio::test(flavor = "multi_thread")]
async fn a_key_in_the_terminal_judges_the_expected_action_it_shows() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.yaml"), BRANCHING).unwrap();
    let term = Terminal::start(dir.path(), "injector-judge");
    let tm = |args: &[&str]| term.keys(args);
    let wait_for = |needle: &str| term.wait_for(needle);
    wait_for("expect  evacuation-ordered: Blue orders the evacuation (due in 00:00:");
    wait_for("[m] met  [x] missed");
    // A note: `n`, the text, Enter.
    tm(&["send-keys", "-t", "SESSION", "n"]);
    wait_for("note  _");
    tm(&["send-keys", "-t", "SESSION", "-l", "Blue is stalling"]);
    wait_for("note  Blue is stalling_");
    tm(&["send-keys", "-t", "SESSION", "Enter"]);
    wait_for("note taken");
    // Its branch would fire at once: the first `x` shows so, the second does it.
    tm(&["send-keys", "-t", "SESSION", "x"]);
    wait_for("press `x` again within 10 s to do it");
    tm(&["send-keys", "-t", "SESSION", "x"]);
    wait_for("evacuation-ordered judged missed; triggered flood-worsens");
    wait_for("dry run: 3 sent");
    tm(&["kill-server"]);
    assert_eq!(
        control_actions(dir.path(), "s.dry-run.journal.jsonl"),
        ["missed terminal"]
    );
    let notes: Vec<String> = crate::run::journal(dir.path(), "s.dry-run.journal.jsonl")
        .iter()
        .filter(|l| l["type"] == "note")
        .map(|l| {
            format!(
                "{} {}",
                l["source"].as_str().unwrap(),
                l["text"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(notes, ["terminal Blue is stalling"]);
}

/// The white cell in two browsers at once: a director and an observer, each with their
/// own token. The observer cannot hold (no button, and the server says 403); the
/// director's hold shows on the observer's page within a second, pushed; the observer's
/// note shows on the director's page, and in the report with the observer's name.
#[tokio::test(flavor = "multi_thread")]
async fn a_director_and_an_observer_on_one_live_exercise() {
    crate::common::tool("chromium-driver");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("s.yaml"), scenario(4, 20_000)).unwrap();
    let token = |name: &str, role: &str| {
        let run = crate::common::injector_in(
            d,
            &[
                "controllers",
                "add",
                name,
                "--role",
                role,
                "--file",
                "team.yaml",
            ],
        );
        run.code(0);
        run.stdout.trim().to_string()
    };
    let (dana, olive) = (token("Dana", "director"), token("Olive", "observer"));
    let (mut child, url) = dry_run_with_team(d, "team.yaml").await;
    let (p1, p2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let director = Driver::start(p1.path()).await;
    let observer = Driver::start(p2.path()).await;
    for (driver, token) in [(&director, &dana), (&observer, &olive)] {
        driver
            .session(
                "POST",
                "/url",
                Some(json!({"url": format!("{url}#token={token}")})),
            )
            .await;
        driver.wait_text("#live", |t| t == "live").await;
    }
    assert_eq!(director.text("#you").await, "Dana (director)");
    assert_eq!(observer.text("#you").await, "Olive (observer)");
    // The token left the address bar.
    let address = observer.session("GET", "/url", None).await;
    assert!(!address.as_str().unwrap().contains(&olive), "{address}");
    // The observer has no Hold button, and the server refuses it anyway.
    assert!(director.displayed("#hold").await);
    assert!(!observer.displayed("#hold").await);
    assert!(observer.displayed("#note-add").await);
    let http = crate::stand_in::client();
    let refused = http
        .post(format!("{url}api/hold"))
        .bearer_auth(&olive)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    // The director holds; the observer's page shows it within a second, no reload.
    observer.wait_text("#state", |t| t == "running").await;
    director.click("#hold").await;
    let clicked = std::time::Instant::now();
    observer.wait_text("#state", |t| t == "held").await;
    let took = clicked.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "the hold reached the other page after {took:?}"
    );
    // The observer's note reaches the director's page.
    observer
        .type_into("#note-text", "Blue cell has not called the police yet")
        .await;
    observer.click("#note-add").await;
    director
        .wait_text("#notes li.note", |t| {
            t.contains("Olive") && t.contains("has not called the police")
        })
        .await;
    director.session("DELETE", "", None).await;
    observer.session("DELETE", "", None).await;
    let end = crate::stand_in::client()
        .post(format!("{url}api/end"))
        .bearer_auth(&dana)
        .json(&json!({"confirm": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(end.status().as_u16(), 200);
    let _ = child.wait().await;
    let report = crate::common::injector_in(d, &["report", "s.dry-run.journal.jsonl"]);
    let line_with = |a: &str, b: &str| {
        report
            .stdout
            .lines()
            .any(|l| l.contains(a) && l.contains(b))
    };
    assert!(
        line_with("Olive (page)", "Blue cell has not called the police yet"),
        "{}",
        report.stdout
    );
    assert!(
        line_with("hold", "(from the page, by Dana)"),
        "{}",
        report.stdout
    );
}

/// A dry run of `s.yaml` in `dir` two seconds from now, steered by the controllers in
/// `team`: the child and its control URL.
async fn dry_run_with_team(dir: &Path, team: &str) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let t0 = t0_in(2);
    let mut child = crate::run::command(
        dir,
        &[
            "run",
            "s.yaml",
            "--dry-run",
            "--start-at",
            &t0,
            "--control",
            "127.0.0.1:0",
            "--controllers",
            team,
        ],
        &[],
    )
    .spawn()
    .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut url = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(u) = line.strip_prefix("control: ") {
            url = u.trim().to_string();
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

/// An exercise with an objective: its inject watched by cory.
const RATED: &str = "name: Rated
teams:
  blue: 3437866
objectives:
  - { id: O1, text: Warn the public, capability: Public Information and Warning }
defaults:
  type: team
  team_id: blue
  persona: \"3-49786\"
  channel: microblog
injects:
  - id: warn
    at: 30s
    body: Warning
    objectives: [O1]
    owner: cory
";

/// An evaluator on the page: who watches each inject, the objective with its rating
/// widget; a rating and a note tagged as an area for improvement, both in the report.
#[tokio::test(flavor = "multi_thread")]
async fn an_evaluator_rates_an_objective_on_the_page() {
    crate::common::tool("chromium-driver");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("s.yaml"), RATED).unwrap();
    let tokens =
        crate::white_cell::add_controllers(d, &[("Dana", "director"), ("Eve", "evaluator")]);
    let (mut child, url) = dry_run_with_team(d, "controllers.yaml").await;
    let profile = tempfile::tempdir().unwrap();
    let eve = Driver::start(profile.path()).await;
    eve.session(
        "POST",
        "/url",
        Some(json!({"url": format!("{url}#token={}", tokens[1])})),
    )
    .await;
    eve.wait_text("#live", |t| t == "live").await;
    assert_eq!(eve.text("#you").await, "Eve (evaluator)");
    assert_eq!(
        eve.text("#rows tr[data-key=\"warn\"] td.owner").await,
        "cory"
    );
    assert!(!eve.displayed("#hold").await, "an evaluator does not steer");
    assert_eq!(
        eve.text("#objectives tr[data-id=\"O1\"] td.ratings").await,
        "not rated"
    );
    eve.click("select[data-rating=\"O1\"] option[value=\"S\"]")
        .await;
    eve.type_into("input[data-why=\"O1\"]", "hotline slow to staff")
        .await;
    eve.click("button[data-rate=\"O1\"]").await;
    eve.wait_text("#objectives tr[data-id=\"O1\"] td.ratings", |t| {
        t == "S (Eve)"
    })
    .await;
    eve.type_into("#note-text", "No script for the hotline")
        .await;
    eve.click("#note-objective option[value=\"O1\"]").await;
    eve.click("#note-tag option[value=\"improvement\"]").await;
    eve.click("#note-add").await;
    eve.wait_text("#notes li:last-child", |t| {
        t.contains("Eve (improvement) on O1: No script for the hotline")
    })
    .await;
    eve.session("DELETE", "", None).await;
    let end = crate::stand_in::client()
        .post(format!("{url}api/end"))
        .bearer_auth(&tokens[0])
        .json(&json!({"confirm": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(end.status().as_u16(), 200);
    let _ = child.wait().await;
    let report = crate::common::injector_in(
        d,
        &["report", "s.dry-run.journal.jsonl", "--format", "json"],
    );
    let doc = report.json();
    assert_eq!(doc["objectives"][0]["ratings"][0]["rating"], "S");
    assert_eq!(
        doc["objectives"][0]["ratings"][0]["note"],
        "hotline slow to staff"
    );
    assert_eq!(
        doc["improvement_plan"][0]["area"],
        "No script for the hotline"
    );
    assert_eq!(doc["improvement_plan"][0]["rating"], "S (Eve)");
}

/// `r` in the terminal rates an objective: the objective, the letter, why; a slip (no
/// letter) is said and rates nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_key_in_the_terminal_rates_an_objective() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.yaml"), RATED).unwrap();
    let term = Terminal::start(dir.path(), "injector-rate");
    let tm = |args: &[&str]| term.keys(args);
    let wait_for = |needle: &str| term.wait_for(needle);
    wait_for("RUNNING");
    tm(&["send-keys", "-t", "SESSION", "r"]);
    wait_for("rate  _");
    tm(&["send-keys", "-t", "SESSION", "-l", "O1"]);
    tm(&["send-keys", "-t", "SESSION", "Enter"]);
    wait_for("not rated: `O1`: type an objective and its rating");
    tm(&["send-keys", "-t", "SESSION", "r"]);
    tm(&[
        "send-keys",
        "-t",
        "SESSION",
        "-l",
        "O1 m warning went out late",
    ]);
    wait_for("rate  O1 m warning went out late_");
    tm(&["send-keys", "-t", "SESSION", "Enter"]);
    wait_for("rated O1 M (performed with major challenges)");
    tm(&["kill-server"]);
    let ratings: Vec<String> = crate::run::journal(dir.path(), "s.dry-run.journal.jsonl")
        .iter()
        .filter(|l| l["type"] == "note")
        .map(|l| {
            format!(
                "{} {} {} {}",
                l["source"].as_str().unwrap(),
                l["objectives"][0].as_str().unwrap(),
                l["rating"].as_str().unwrap(),
                l["text"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(ratings, ["terminal O1 M warning went out late"]);
}

/// A scenario with aliases for the Compose form to offer.
const COMPOSED: &str = "name: Composed
personas:
  hm: \"3-49786\"
  \"@news\": \"3-49792\"
teams:
  blue: 3437866
  green: 3437880
vars:
  city: Portmere
defaults:
  type: team
  team_id: blue
  persona: hm
  channel: microblog
injects:
  - id: warn
    at: 10m
    body: \"Water rising\"
";

/// A controller writes an inject on the page: the Compose form offers the scenario's
/// personas, channels and teams; a mistake is said beside its field; the valid one is
/// previewed with its exact body, confirmed, sent to the team chosen, and listed.
#[tokio::test(flavor = "multi_thread")]
async fn a_controller_composes_an_inject_on_the_page_and_sends_it_to_a_team_from_the_list() {
    crate::common::tool("chromium-driver");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("s.yaml"), COMPOSED).unwrap();
    let tokens =
        crate::white_cell::add_controllers(d, &[("Dana", "director"), ("Cory", "controller")]);
    let (mut child, url) = dry_run_with_team(d, "controllers.yaml").await;
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let profile = tempfile::tempdir().unwrap();
    let cory = Driver::start(profile.path()).await;
    cory.session(
        "POST",
        "/url",
        Some(json!({"url": format!("{url}#token={}", tokens[1])})),
    )
    .await;
    cory.wait_text("#live", |t| t == "live").await;
    cory.click("#compose-part summary").await;
    // The scenario's own choices.
    let teams = cory.text("#c-team").await;
    assert!(
        teams.contains("default (blue)") && teams.contains("green"),
        "{teams}"
    );
    assert!(cory.text("#c-persona").await.contains("@news"));
    assert!(cory.text("#c-channel").await.contains("mail"));
    cory.click("#c-persona option[value=\"@news\"]").await;
    cory.click("#c-channel option[value=\"mail\"]").await;
    cory.click("#c-team option[value=\"green\"]").await;
    cory.type_into("#c-to", "press@portmere.example.org").await;
    cory.type_into("#c-subject", "Statement for {{ cty }}?")
        .await;
    cory.type_into("#c-body", "Who speaks for the city?").await;
    // A slip in the subject: said beside it, nothing sent.
    cory.click("#c-send").await;
    let said = cory.wait_text("#c-error", |t| !t.is_empty()).await;
    assert!(
        said.starts_with("Subject: ") && said.contains("cty"),
        "{said}"
    );
    let marked = cory
        .session(
            "POST",
            "/execute/sync",
            Some(json!({"script": "return document.getElementById('c-subject').classList.contains('bad');", "args": []})),
        )
        .await;
    assert_eq!(marked, json!(true));
    cory.session(
        "POST",
        "/execute/sync",
        Some(json!({"script": "document.getElementById('c-subject').value = '';", "args": []})),
    )
    .await;
    cory.type_into("#c-subject", "Statement for {{ city }}?")
        .await;
    cory.click("#c-send").await;
    let dialog = cory.accept_dialog().await;
    for part in [
        "Send: this sends the ad hoc inject `adhoc-1` now",
        "\"persona\": \"3-49792\"",
        "\"team_id\": 3437880",
        "\"subject\": \"Statement for Portmere?\"",
    ] {
        assert!(dialog.contains(part), "{part}\n{dialog}");
    }
    cory.wait_text("#rows tr[data-key=\"adhoc-1\"]", |t| t.contains("sent"))
        .await;
    // Edit a pending one: its fields to change on one line, old to new, then it goes so.
    cory.click("button[data-edit=\"warn\"]").await;
    let asked = cory.answer_prompt("likes: 5, in: 2s").await;
    assert!(asked.starts_with("Amend warn before it goes"), "{asked}");
    let dialog = cory.accept_dialog().await;
    assert!(
        dialog.starts_with("Amend: this amends warn: likes (none) -> 5; instant ")
            && dialog.contains("\"likes\": 5"),
        "{dialog}"
    );
    cory.wait_text("#rows tr[data-key=\"warn\"]", |t| t.contains("sent"))
        .await;
    cory.session("DELETE", "", None).await;
    let end = crate::stand_in::client()
        .post(format!("{url}api/end"))
        .bearer_auth(&tokens[0])
        .json(&json!({"confirm": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(end.status().as_u16(), 200);
    let _ = child.wait().await;
    let lines = crate::run::journal(d, "s.dry-run.journal.jsonl");
    let adhoc = lines.iter().find(|e| e["type"] == "adhoc").unwrap();
    assert_eq!(adhoc["by"], "Cory");
    assert_eq!(adhoc["source"], "page");
    let amended = lines.iter().find(|e| e["type"] == "amended").unwrap();
    assert_eq!(amended["key"], "warn");
    assert_eq!(amended["by"], "Cory");
    assert!(
        lines
            .iter()
            .any(|e| e["type"] == "sent" && e["key"] == "adhoc-1"),
        "{lines:?}"
    );
}
