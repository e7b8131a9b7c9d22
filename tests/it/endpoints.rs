//! All four of Conducttr's messaging endpoints: the example bodies of the position, role
//! and gps pages written as a scenario, sent by a real run to the stand-in at their
//! paths; the stand-in's contracts for each; the addressee in the plan and the report.

use serde_json::{Value, json};

use crate::common::{injector_in, scenario as example, tempdir, write};
use crate::run::{TOKEN, injector_run, journal, sent, setup, stand_in};

/// The pages' examples (as the API notes give them; their JSON typos mended), plus a
/// team message: `(inject YAML, path, body without ts)`.
fn examples() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "  - id: to-position
    at: 1s
    persona: \"3-49786\"
    channel: mail
    position: CEO
    subject: Quarterly figures
    body: Please review the attached figures before the board meeting.
    team_id: 3440932
    type: team
",
            "/v1.1/eagle/messages/position",
            json!({"persona": "3-49786", "channel": "mail", "position": "CEO", "subject": "Quarterly figures",
                   "body": "Please review the attached figures before the board meeting.", "team_id": 3440932, "type": "team"}),
        ),
        (
            "  - id: to-role
    at: 1s
    persona: \"3-49786\"
    channel: msngr
    role: Role2
    body: Report to the east gate.
    team_id: \"3440932\"
    type: team
    isDraft: false
",
            "/v1.1/eagle/messages/role",
            json!({"persona": "3-49786", "channel": "msngr", "role": "Role2", "body": "Report to the east gate.",
                   "team_id": "3440932", "type": "team", "isDraft": 0}),
        ),
        (
            "  - id: move
    at: 1s
    persona: \"3-49786\"
    gps: { lat: 51.5074, lon: -0.1278, location: \"Merril Bay, Goldland\" }
    team_id: 3440932
    type: team
",
            "/v1.1/eagle/messages/gps",
            json!({"persona": "3-49786", "lat": 51.5074, "lon": -0.1278, "location": "Merril Bay, Goldland",
                   "team_id": 3440932, "type": "team"}),
        ),
        (
            "  - id: to-team
    at: 1s
    persona: \"3-49786\"
    channel: microblog
    body: Smoke over the harbour.
    team_id: 3440932
    type: team
",
            "/v1.1/eagle/messages",
            json!({"persona": "3-49786", "channel": "microblog", "body": "Smoke over the harbour.",
                   "team_id": 3440932, "type": "team"}),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_documented_bodies_arrive_at_their_paths_and_the_journal_has_their_ids() {
    let server = stand_in(Default::default()).await;
    let mut yaml = String::from("name: Four endpoints\ninjects:\n");
    for (inject, _, _) in examples() {
        yaml.push_str(inject);
    }
    let s = setup(&yaml);
    let dir = s.dir.path();
    let t0 = (chrono::Utc::now() + chrono::TimeDelta::seconds(1)).to_rfc3339();
    let run = injector_run(
        dir,
        &[
            "run",
            "s.yaml",
            "--base-url",
            &server.base_url(),
            "--token-file",
            s.token_file.to_str().unwrap(),
            "--start-at",
            &t0,
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let requests = sent(&server);
    assert_eq!(requests.len(), 4);
    let t0 = chrono::DateTime::parse_from_rfc3339(&t0)
        .unwrap()
        .timestamp();
    let lines = journal(dir, "s.journal.jsonl");
    for (i, (_, path, mut expected)) in examples().into_iter().enumerate() {
        let key = ["to-position", "to-role", "move", "to-team"][i];
        let got = requests
            .iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("nothing at {path}"));
        assert_eq!(got.status, Some(200), "{path}: {:?}", got.details);
        expected["ts"] = json!(t0 + 1);
        assert_eq!(got.body, expected, "{path}");
        let line = lines
            .iter()
            .find(|l| l["type"] == "sent" && l["key"] == key)
            .unwrap();
        assert_eq!(
            line["message_id"].as_str(),
            got.message_id.as_deref(),
            "{key}"
        );
    }
    // The report says whom each went to.
    let report = injector_in(dir, &["report", "s.journal.jsonl"]);
    for to in ["position CEO", "role Role2", "move to Merril Bay, Goldland"] {
        assert!(report.stdout.contains(to), "{to}: {}", report.stdout);
    }
    server.shutdown(std::time::Duration::from_secs(1)).await;
}

/// POST `body` to `path` of `server` with the right token; status and `details`.
async fn post(base: &str, path: &str, body: Value, token: Option<&str>) -> (u16, Value) {
    let http = crate::stand_in::client();
    let mut req = http.post(format!("{base}{path}")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stand_in_keeps_each_endpoints_contract() {
    let mut opts = injector::stand_in::Options::local(TOKEN);
    opts.check_ids = true;
    let server = injector::stand_in::StandIn::start(opts).await.unwrap();
    let base = server.base_url();
    let ok_position = json!({"persona": "3-49786", "channel": "mail", "position": "Press Officer", "body": "b",
                             "team_id": 3440932, "type": "team", "ts": 1});
    let (status, answer) = post(
        &base,
        "/messages/position",
        ok_position.clone(),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["message_id"].is_string());
    assert_eq!(
        post(&base, "/messages/position", ok_position.clone(), None)
            .await
            .0,
        401
    );
    let field = |answer: &Value, f: &str| {
        answer["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["field"] == f)
    };
    // Case-sensitive, and known to the exercise (--check-ids against --world).
    let mut wrong_case = ok_position.clone();
    wrong_case["position"] = json!("press officer");
    let (status, answer) = post(&base, "/messages/position", wrong_case, Some(TOKEN)).await;
    assert_eq!(status, 400);
    assert!(answer.to_string().contains("case-sensitive"), "{answer}");
    // A position at /messages; a role out of range; a move out of range, with a message field.
    assert!(field(
        &post(&base, "/messages", ok_position.clone(), Some(TOKEN))
            .await
            .1,
        "position"
    ));
    let mut role = ok_position.clone();
    role.as_object_mut().unwrap().remove("position");
    role["role"] = json!("Role9");
    let (status, answer) = post(&base, "/messages/role", role, Some(TOKEN)).await;
    assert_eq!(status, 400);
    assert!(field(&answer, "role"));
    let gps = json!({"persona": "3-49786", "lat": 91.0, "lon": 0.0, "location": "Nowhere", "team_id": 3440932,
                     "type": "team", "ts": 1, "channel": "microblog"});
    let (status, answer) = post(&base, "/messages/gps", gps, Some(TOKEN)).await;
    assert_eq!(status, 400);
    assert!(
        field(&answer, "lat") && field(&answer, "channel"),
        "{answer}"
    );
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        paths.contains(&"/v1.1/eagle/messages/gps".to_string()),
        "{paths:?}"
    );
    server.shutdown(std::time::Duration::from_secs(1)).await;
}

#[test]
fn the_longitude_is_one_setting_away_and_the_plan_names_each_addressee() {
    let dir = tempdir();
    let yaml = format!(
        "name: Lng\ngps_longitude: lng\ninjects:\n{}",
        examples()[2].0
    );
    write(dir.path(), "lng.yaml", &yaml);
    let plan = injector_in(dir.path(), &["plan", "lng.yaml", "--format", "json"]);
    plan.code(0);
    let body = &plan.json()["occurrences"][0]["body"];
    assert_eq!(body["lng"], json!(-0.1278));
    assert!(body.get("lon").is_none());
    assert_eq!(plan.json()["occurrences"][0]["endpoint"], "/messages/gps");
    let file = example("command-post.yaml");
    let text = injector_in(dir.path(), &["plan", file.to_str().unwrap()]);
    text.code(0);
    for to in [
        "position Incident Commander",
        "role Role1",
        "move to East Quay, Portmere",
    ] {
        assert!(text.stdout.contains(to), "{to}: {}", text.stdout);
    }
}

/// A run starting now of injects `(id, offset in ms)`, each with its id as body, against
/// `base` with `envs`, which must succeed; its journal lines and T0.
async fn run_now(
    injects: &[(&str, u64)],
    base: &str,
    envs: &[(&str, &str)],
) -> (Vec<Value>, chrono::DateTime<chrono::Utc>) {
    let mut yaml = String::from(
        "name: Connections\ndefaults:\n  type: team\n  team_id: 3437866\n  persona: \"3-49786\"\n  channel: microblog\ninjects:\n",
    );
    for (id, ms) in injects {
        yaml.push_str(&format!("  - id: {id}\n    at: {ms}ms\n    body: {id}\n"));
    }
    let s = setup(&yaml);
    let t0 = chrono::Utc::now();
    let run = injector_run(
        s.dir.path(),
        &[
            "run",
            "s.yaml",
            "--base-url",
            base,
            "--token-file",
            s.token_file.to_str().unwrap(),
            "--start-at",
            &t0.to_rfc3339(),
        ],
        envs,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    (journal(s.dir.path(), "s.journal.jsonl"), t0)
}

/// The `POST`s a stand-in received.
fn posts(server: &injector::stand_in::StandIn) -> Vec<injector::stand_in::Record> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

/// Each `sent` line: first attempt, no possible duplicate; how many there are.
fn sent_once_each(lines: &[Value]) -> usize {
    let sent: Vec<&Value> = lines.iter().filter(|l| l["type"] == "sent").collect();
    for l in &sent {
        assert_eq!(l["attempts"], 1, "{l}");
        assert_eq!(l["possible_duplicate"], false, "{l}");
    }
    sent.len()
}

/// Against a server that closes the connection after refusing a request (as some do
/// with a warming one), the connections opened ahead stay usable: nothing is asked on
/// them before the burst, which goes out on them, each send on its first attempt.
#[tokio::test(flavor = "multi_thread")]
async fn connections_opened_ahead_survive_a_server_that_closes_refused_requests() {
    let server = stand_in(injector::stand_in::Faults {
        close_refused: true,
        ..Default::default()
    })
    .await;
    let burst = [("b0", 3000), ("b1", 3000), ("b2", 3000), ("b3", 3000)];
    let (lines, t0) = run_now(&burst, &server.base_url(), &[]).await;
    // The preflight's reads, then the burst, nothing else.
    let requests = server.requests();
    let reads = requests.iter().take_while(|r| r.method == "GET").count();
    let posts = &requests[reads..];
    assert_eq!(posts.len(), 4, "{requests:?}");
    let due = (t0 + chrono::TimeDelta::seconds(3))
        .timestamp_nanos_opt()
        .unwrap() as u64;
    for post in posts {
        assert_eq!(post.method, "POST");
        assert!(post.conn_opened_unix_ns.unwrap() + 1_000_000_000 <= due);
    }
    assert_eq!(sent_once_each(&lines), 4);
    server.shutdown(std::time::Duration::from_secs(1)).await;
}

/// A server that closes idle connections (a keep-alive timeout) between sends: each send
/// goes on a connection that is open, on its first attempt, never counted as a possible
/// duplicate.
#[tokio::test(flavor = "multi_thread")]
async fn connections_a_server_closed_while_idle_are_not_used() {
    let server = stand_in(injector::stand_in::Faults {
        idle_close: Some(std::time::Duration::from_millis(300)),
        ..Default::default()
    })
    .await;
    let singles = [("s0", 1000), ("s1", 1800), ("s2", 2600)];
    let (lines, _) = run_now(&singles, &server.base_url(), &[]).await;
    let posts = posts(&server);
    assert_eq!(posts.len(), 3, "{posts:?}");
    let conns: std::collections::BTreeSet<u64> = posts.iter().map(|r| r.conn.unwrap()).collect();
    assert_eq!(conns.len(), 3, "each on a connection of its own: {posts:?}");
    assert_eq!(sent_once_each(&lines), 3);
    server.shutdown(std::time::Duration::from_secs(1)).await;
}

/// A TLS front for `backend` on 127.0.0.1:0 with `tls`: each connection's TLS ended and
/// its bytes carried to the backend and back.
async fn tls_front(
    tls: std::sync::Arc<rustls::ServerConfig>,
    backend: std::net::SocketAddr,
) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut front) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut back) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut front, &mut back).await;
            });
        }
    });
    addr
}

/// Over https, the messages go on TLS connections verified as reqwest verifies them (the
/// system's roots; here `SSL_CERT_FILE` names the only one), opened ahead and kept.
#[tokio::test(flavor = "multi_thread")]
async fn messages_go_over_https_verified_by_the_systems_roots() {
    let server = stand_in(injector::stand_in::Faults::default()).await;
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let tls = injector::tls::from_pem(
        made.cert.pem().as_bytes(),
        made.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let front = tls_front(tls.config, server.addr()).await;
    let roots_dir = tempdir();
    let roots = write(roots_dir.path(), "roots.pem", &made.cert.pem());
    let base = format!("https://localhost:{}/v1.1/eagle", front.port());
    let burst = [("t0", 2500), ("t1", 2500), ("t2", 2500)];
    let (lines, _) = run_now(&burst, &base, &[("SSL_CERT_FILE", roots.to_str().unwrap())]).await;
    let posts = posts(&server);
    assert_eq!(posts.len(), 3, "{posts:?}");
    assert!(
        posts
            .iter()
            .all(|r| r.status == Some(200) && r.auth == "ok")
    );
    assert_eq!(sent_once_each(&lines), 3);
    server.shutdown(std::time::Duration::from_secs(1)).await;
}
