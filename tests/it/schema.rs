//! The JSON Schema accepts every example scenario and rejects broken ones.

use crate::common::{injector, root, scenario};

fn schema() -> serde_json::Value {
    let run = injector(&["schema"]);
    run.code(0);
    run.json()
}

fn as_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    injector::yaml::parse(&text).unwrap().to_json()
}

#[test]
fn accepts_every_example_scenario() {
    let validator = jsonschema::draft7::new(&schema()).expect("a valid draft-07 schema");
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        let doc = as_json(&path);
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}

#[test]
fn rejects_broken_scenarios() {
    let validator = jsonschema::draft7::new(&schema()).unwrap();
    let mut doc = as_json(&scenario("quickstart.yaml"));
    doc["injects"][0]["subjct"] = "typo".into();
    assert!(!validator.is_valid(&doc));
    let mut doc = as_json(&scenario("quickstart.yaml"));
    doc["injects"][0]["sentiment"] = "happy".into();
    assert!(!validator.is_valid(&doc));
    let mut doc = as_json(&scenario("quickstart.yaml"));
    doc["injects"][0]["at"] = "soon".into();
    assert!(!validator.is_valid(&doc));
    let mut doc = as_json(&scenario("quickstart.yaml"));
    doc.as_object_mut().unwrap().remove("injects");
    assert!(!validator.is_valid(&doc));
}

#[test]
fn the_committed_schema_file_is_current() {
    let committed = std::fs::read_to_string(root().join("injector.schema.json")).unwrap();
    assert_eq!(
        committed,
        injector(&["schema"]).stdout,
        "run `injector schema -o injector.schema.json`"
    );
}

#[test]
fn examples_point_editors_at_the_schema() {
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        let first = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        assert_eq!(
            first,
            "# yaml-language-server: $schema=../injector.schema.json",
            "{}",
            path.display()
        );
    }
}
