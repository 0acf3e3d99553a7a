use super::is_acceptable;

#[test]
fn accepts_ordinary_ids_and_rejects_the_rest() {
    assert!(is_acceptable("0190f3c2-7a4e-7cc0-8d3b-5f0c5e0e9a11"));
    assert!(is_acceptable("trace:abc_1.2"));
    assert!(!is_acceptable(""));
    assert!(!is_acceptable("has space"));
    assert!(!is_acceptable("new\nline"));
    assert!(!is_acceptable(&"a".repeat(129)));
}
