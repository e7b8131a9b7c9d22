//! Unit tests of the contract: a complete body, each rule's field, articles and hacks,
//! addresses and URLs.

use serde_json::json;

use super::*;

fn documented(c: &str) -> bool {
    DOCUMENTED_CHANNELS.contains(&c)
}

fn fields(v: &Value) -> Vec<String> {
    check(v.as_object().unwrap(), &documented)
        .into_iter()
        .map(|v| v.field)
        .collect()
}

#[test]
fn a_complete_team_post_passes() {
    let body = json!({"persona": "3-1", "channel": "microblog", "body": "x",
        "type": "team", "team_id": 3437866, "ts": 1738686056});
    assert_eq!(fields(&body), Vec::<String>::new());
}

#[test]
fn each_rule_names_its_field() {
    let body = json!({"channel": "websitez", "type": "crowd", "ts": "soon",
        "sentiment": "happy", "likes": -1, "isDraft": 2, "cc": "a@b.co, nope",
        "assets": [{"type": "gif", "assetUrl": "/x.png"}]});
    let got = fields(&body);
    for f in [
        "persona",
        "channel",
        "type",
        "ts",
        "sentiment",
        "likes",
        "isDraft",
        "cc",
        "assets",
    ] {
        assert!(got.contains(&f.to_string()), "{f} missing from {got:?}");
    }
}

#[test]
fn articles_need_titles_hacks_need_flags() {
    let article = json!({"persona": "3-1", "channel": "websites", "body": "x",
        "type": "team", "team_id": 1, "ts": 1});
    assert_eq!(fields(&article), vec!["title"]);
    let hack = json!({"persona": "3-1", "channel": "websites", "hacked_image": "ftp://x",
        "type": "team", "team_id": 1, "ts": 1});
    assert_eq!(fields(&hack), vec!["is_hacked", "hacked_image"]);
}

#[test]
fn addresses_and_urls() {
    assert!(is_email("6981039fa6ef12.39280090@tstoryteller.com"));
    assert!(!is_email("sally@"));
    assert!(!is_email("sally theoffice.com"));
    assert!(is_http_url("https://conducttr-a.akamaihd.net/fa/x.png"));
    assert!(!is_http_url("https:///x"));
    assert!(!is_http_url("x.png"));
}
