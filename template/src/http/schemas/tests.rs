use super::*;

#[test]
fn the_documented_names_are_the_wire_names() {
    same_names::<TaskStatus>();
    same_names::<Role>();
    same_names::<JobStatus>();
    same_names::<TaskEventKind>();
    same_names::<SortKey>();
    same_names::<Direction>();
}

/// Numbers an annotation must write as literals are the constants the server checks.
#[test]
fn the_documented_header_limits_are_the_servers() {
    let doc = serde_json::to_value(crate::http::openapi()).unwrap();
    let key = doc["paths"]["/tasks"]["post"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|parameter| parameter["name"] == "Idempotency-Key")
        .unwrap();
    assert_eq!(
        key["schema"]["maxLength"],
        crate::http::tasks::IDEMPOTENCY_KEY_MAX_LEN
    );
}
