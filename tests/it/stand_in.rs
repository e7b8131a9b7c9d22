//! The stand-in server, driven by a real HTTP client over loopback.

use std::time::Duration;

use injector::stand_in::{Faults, Options, StandIn};
use serde_json::{Value, json};

use crate::common::{bin, fixture, tempdir};

const TOKEN: &str = "test-token-8c1f";

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn start(opts: Options) -> StandIn {
    StandIn::start(opts).await.expect("the stand-in starts")
}

async fn post(c: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = c.post(format!("{url}/messages")).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("a response");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `GET /_mock/requests` with `query` (e.g. `?since=1`): the listed records.
async fn mock_requests(c: &reqwest::Client, server: &StandIn, query: &str) -> Value {
    c.get(format!("http://{}/_mock/requests{query}", server.addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn api_bodies() -> serde_json::Map<String, Value> {
    serde_json::from_str::<Value>(&std::fs::read_to_string(fixture("api/bodies.json")).unwrap())
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn every_example_body_of_the_api_page_is_accepted() {
    let server = start(Options::local(TOKEN)).await;
    let c = client();
    for (name, body) in api_bodies() {
        let (status, answer) = post(&c, &server.base_url(), Some(TOKEN), &body).await;
        assert_eq!(status, 200, "{name}: {answer}");
        let id = answer["message_id"].as_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
    }
    let got = server.requests();
    assert_eq!(got.len(), 5);
    assert!(
        got.iter()
            .all(|r| r.auth == "ok" && r.status == Some(200) && r.message_id.is_some())
    );
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn each_contract_violation_is_named() {
    let server = start(Options::local(TOKEN)).await;
    let c = client();
    let base = api_bodies()["social-media"].clone();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("persona", Value::Null, "persona"),
        ("channel", json!("carrier-pigeon"), "channel"),
        ("ts", json!("yesterday"), "ts"),
        ("ts", Value::Null, "ts"),
        ("type", json!("crowd"), "type"),
        ("sentiment", json!("ecstatic"), "sentiment"),
        ("likes", json!(-1), "likes"),
        ("replies", json!("many"), "replies"),
        ("isDraft", json!(2), "isDraft"),
        (
            "assets",
            json!([{"type": "gif", "assetUrl": "https://x.org/a.gif"}]),
            "assets",
        ),
        (
            "assets",
            json!([{"type": "image", "assetUrl": "/relative.png"}]),
            "assets",
        ),
        ("to", json!("not an address"), "to"),
        ("team_id", json!("blue"), "team_id"),
        ("team_id", Value::Null, "team_id"),
    ];
    for (field, value, expected) in cases {
        let mut body = base.clone();
        if value.is_null() {
            body.as_object_mut().unwrap().remove(field);
        } else {
            body[field] = value.clone();
        }
        let (status, answer) = post(&c, &server.base_url(), Some(TOKEN), &body).await;
        assert_eq!(status, 400, "{field}={value}");
        assert_eq!(answer["error"], "Invalid request");
        let fields: Vec<&str> = answer["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&expected), "{field}={value}: {answer}");
    }
    // An article without a title, a hack without is_hacked.
    let mut article = api_bodies()["website-article"].clone();
    article.as_object_mut().unwrap().remove("title");
    let (status, answer) = post(&c, &server.base_url(), Some(TOKEN), &article).await;
    assert_eq!(
        (status, answer["details"][0]["field"].as_str()),
        (400, Some("title"))
    );
    let mut hack = api_bodies()["hack"].clone();
    hack.as_object_mut().unwrap().remove("is_hacked");
    let (status, answer) = post(&c, &server.base_url(), Some(TOKEN), &hack).await;
    assert_eq!(
        (status, answer["details"][0]["field"].as_str()),
        (400, Some("is_hacked"))
    );
    // Not JSON, and not declared as JSON.
    let resp = c
        .post(format!("{}/messages", server.base_url()))
        .bearer_auth(TOKEN)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let answer: Value = resp.json().await.unwrap();
    let fields: Vec<&str> = answer["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["Content-Type", "body"]);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn wrong_or_missing_token_is_401_and_never_recorded() {
    let dir = tempdir();
    let record = dir.path().join("rec.jsonl");
    let mut opts = Options::local(TOKEN);
    opts.record = Some(record.clone());
    let server = start(opts).await;
    let c = client();
    let body = api_bodies()["email"].clone();
    assert_eq!(post(&c, &server.base_url(), None, &body).await.0, 401);
    assert_eq!(
        post(&c, &server.base_url(), Some("guess"), &body).await.0,
        401
    );
    assert_eq!(
        post(&c, &server.base_url(), Some(TOKEN), &body).await.0,
        200
    );
    let resp = c
        .get(format!("{}/teams", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let auths: Vec<String> = server.requests().iter().map(|r| r.auth.clone()).collect();
    assert_eq!(auths, ["missing", "wrong", "ok", "missing"]);
    server.shutdown(Duration::from_secs(1)).await;
    let text = std::fs::read_to_string(record).unwrap();
    assert_eq!(text.lines().count(), 4);
    assert!(!text.contains(TOKEN));
    assert!(!text.to_lowercase().contains("authorization"));
}

#[tokio::test]
async fn teams_and_personas_flow_with_an_expiring_link() {
    let mut opts = Options::local(TOKEN);
    opts.link_ttl = Duration::from_millis(400);
    let server = start(opts).await;
    let c = client();
    let teams: Value = c
        .get(format!("{}/teams", server.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let teams = teams.as_array().unwrap();
    assert!(
        teams
            .iter()
            .any(|t| t["id"] == 3437866 && t["name"].as_str().unwrap().starts_with("T - "))
    );
    assert!(
        teams
            .iter()
            .any(|t| t["name"].as_str().unwrap().starts_with("S - "))
    );

    let link: Value = c
        .get(format!("{}/personas", server.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = link["presigned_url"].as_str().unwrap().to_string();
    let zip_bytes = c.get(&url).send().await.unwrap().bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.to_vec())).unwrap();
    let data: Value = serde_json::from_reader(archive.by_name("data.json").unwrap()).unwrap();
    let personas = data.as_array().unwrap();
    let hm = personas
        .iter()
        .find(|p| p["system_info"]["hash"] == "3-49786")
        .unwrap();
    assert_eq!(hm["system_info"]["handle"], "@harbourmaster");
    assert!(hm["identity"]["job_title"].is_string());

    tokio::time::sleep(Duration::from_millis(600)).await;
    let expired = c.get(&url).send().await.unwrap();
    assert_eq!(expired.status().as_u16(), 403);
    assert!(
        expired
            .text()
            .await
            .unwrap()
            .contains("Request has expired")
    );
    let bogus = c
        .get(format!(
            "http://{}/_mock/files/nope/personas.zip",
            server.addr()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status().as_u16(), 404);
    let unknown = c
        .get(format!("{}/nope", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let answer: Value = unknown.json().await.unwrap();
    assert_eq!(answer["error"], "Not found");
    let wrong_method = c
        .head(format!("{}/messages", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status().as_u16(), 405);
    server.shutdown(Duration::from_secs(1)).await;
}

/// Fire `n` valid posts one after another; the outcome of each.
async fn outcomes(faults: Faults, n: usize) -> Vec<String> {
    let mut opts = Options::local(TOKEN);
    opts.faults = faults;
    let server = start(opts).await;
    let c = client();
    let body = api_bodies()["email"].clone();
    let mut out = Vec::new();
    for _ in 0..n {
        let resp = c
            .post(format!("{}/messages", server.base_url()))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await;
        out.push(match resp {
            Ok(r) if r.status().as_u16() == 429 => {
                assert_eq!(r.headers()["retry-after"], "1");
                "429".to_string()
            }
            Ok(r) => r.status().as_u16().to_string(),
            Err(_) => "dropped".to_string(),
        });
    }
    let recorded: Vec<Option<String>> = server.requests().iter().map(|r| r.fault.clone()).collect();
    assert_eq!(recorded.len(), n);
    server.shutdown(Duration::from_secs(1)).await;
    out
}

#[tokio::test]
async fn seeded_fault_rates_hold_and_repeat() {
    let faults = Faults {
        fail_rate: 0.2,
        throttle_rate: 0.1,
        drop_rate: 0.1,
        latency: None,
        seed: 42,
        close_refused: false,
        idle_close: None,
        refuse_once: None,
        unavailable_first: 0,
    };
    let n = 600;
    let first = outcomes(faults.clone(), n).await;
    let share =
        |pred: &dyn Fn(&str) -> bool| first.iter().filter(|o| pred(o)).count() as f64 / n as f64;
    let fail = share(&|o| o.starts_with('5'));
    let throttle = share(&|o| o == "429");
    let dropped = share(&|o| o == "dropped");
    let ok = share(&|o| o == "200");
    assert!((fail - 0.2).abs() < 0.06, "fail share {fail}");
    assert!((throttle - 0.1).abs() < 0.05, "throttle share {throttle}");
    assert!((dropped - 0.1).abs() < 0.05, "drop share {dropped}");
    assert!((ok - 0.6).abs() < 0.07, "ok share {ok}");
    let again = outcomes(faults, n).await;
    assert_eq!(first, again, "the same seed gives the same outcomes");
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let mut opts = Options::local(TOKEN);
    opts.faults.latency = Some((Duration::from_millis(150), Duration::from_millis(150)));
    let server = start(opts).await;
    let c = client();
    let started = std::time::Instant::now();
    assert_eq!(
        post(&c, &server.base_url(), Some(TOKEN), &api_bodies()["email"])
            .await
            .0,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn check_ids_rejects_strangers_and_requests_are_listed() {
    let mut opts = Options::local(TOKEN);
    opts.check_ids = true;
    let server = start(opts).await;
    let c = client();
    let mut body = api_bodies()["social-media"].clone();
    assert_eq!(
        post(&c, &server.base_url(), Some(TOKEN), &body).await.0,
        200
    );
    body["persona"] = json!("9-999");
    body["team_id"] = json!(1);
    let (status, answer) = post(&c, &server.base_url(), Some(TOKEN), &body).await;
    assert_eq!(status, 400);
    let fields: Vec<&str> = answer["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["persona", "team_id"]);
    let listed = mock_requests(&c, &server, "?since=1").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["seq"], 2);
    assert_eq!(listed[0]["status"], 400);
    server.shutdown(Duration::from_secs(1)).await;
}

/// Start `injector mock-server` as a process; returns it and its base URL.
fn spawn_mock(args: &[&str]) -> (std::process::Child, String, std::process::ChildStderr) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(bin())
        .arg("mock-server")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    (child, line.trim().to_string(), stderr)
}

#[tokio::test]
async fn the_record_survives_sigterm() {
    let dir = tempdir();
    let record = dir.path().join("rec.jsonl");
    let (mut child, url, _stderr) = spawn_mock(&[
        "--listen",
        "127.0.0.1:0",
        "--token",
        TOKEN,
        "--record",
        record.to_str().unwrap(),
    ]);
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/v1.1/eagle"),
        "{url}"
    );
    let c = client();
    let body = api_bodies()["email"].clone();
    for _ in 0..50 {
        assert_eq!(post(&c, &url, Some(TOKEN), &body).await.0, 200);
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let text = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 50);
    assert!(
        lines
            .iter()
            .all(|l| l["status"] == 200 && l["message_id"].is_string())
    );
}

#[tokio::test]
async fn without_a_token_one_is_made_and_printed() {
    use std::io::Read;
    let (mut child, url, mut stderr) = spawn_mock(&["--listen", "127.0.0.1:0"]);
    let c = client();
    let body = api_bodies()["email"].clone();
    assert_eq!(post(&c, &url, Some("anything"), &body).await.0, 401);
    child.kill().unwrap();
    child.wait().unwrap();
    let mut text = String::new();
    stderr.read_to_string(&mut text).unwrap();
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("stand-in token: "))
        .expect("the token is printed")
        .trim()
        .to_string();
    assert_eq!(token.len(), 32);
}

#[test]
fn bad_flags_are_usage_errors() {
    let run = crate::common::injector(&["mock-server", "--fail-rate", "1.5"]);
    run.code(2);
    let run = crate::common::injector(&[
        "mock-server",
        "--fail-rate",
        "0.6",
        "--drop-rate",
        "0.6",
        "--listen",
        "127.0.0.1:0",
    ]);
    run.code(2);
    assert!(
        run.stderr.contains("add up to more than 1"),
        "{}",
        run.stderr
    );
    let run = crate::common::injector(&[
        "mock-server",
        "--world",
        "/nonexistent/world.yaml",
        "--listen",
        "127.0.0.1:0",
    ]);
    run.code(2);
    assert!(
        run.stderr.contains("cannot read the world file"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn memory_keeps_the_latest_records_and_the_file_keeps_all() {
    let dir = tempdir();
    let mut opts = Options::local(TOKEN);
    opts.kept_records = 3;
    opts.record = Some(dir.path().join("record.jsonl"));
    let server = start(opts).await;
    let c = client();
    let body = api_bodies()["social-media"].clone();
    for _ in 0..5 {
        assert_eq!(
            post(&c, &server.base_url(), Some(TOKEN), &body).await.0,
            200
        );
    }
    let kept: Vec<u64> = server.requests().iter().map(|r| r.seq).collect();
    assert_eq!(kept, [3, 4, 5]);
    let listed = mock_requests(&c, &server, "").await;
    let listed: Vec<u64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, [3, 4, 5]);
    server.shutdown(Duration::from_secs(1)).await;
    let text = std::fs::read_to_string(dir.path().join("record.jsonl")).unwrap();
    let seqs: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
}
