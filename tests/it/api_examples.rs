//! Every example of the API page, written as a scenario, produces exactly the documented body.

use crate::common::{fixture, injector};

#[test]
fn each_documented_example_produces_its_exact_body() {
    let path = fixture("api/api-examples.yaml");
    let run = injector(&["plan", path.to_str().unwrap(), "--format", "json"]);
    run.code(0);
    let plan = run.json();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("api/bodies.json")).unwrap())
            .unwrap();
    let occurrences = plan["occurrences"].as_array().unwrap();
    assert_eq!(occurrences.len(), 5);
    for occ in occurrences {
        let key = occ["key"].as_str().unwrap();
        assert_eq!(occ["body"], expected[key], "body of `{key}`");
    }
}

#[test]
fn the_examples_validate_cleanly() {
    let path = fixture("api/api-examples.yaml");
    let run = injector(&["validate", "--strict", path.to_str().unwrap()]);
    run.code(0);
}
