use super::*;

#[test]
fn the_next_link_keeps_the_query_and_replaces_the_position() {
    let link = |query: Option<&str>| next_link(query, "abc").unwrap();
    assert_eq!(link(None), "<?cursor=abc>; rel=\"next\"");
    assert_eq!(link(Some("")), "<?cursor=abc>; rel=\"next\"");
    assert_eq!(
        link(Some("status=todo&cursor=old&limit=5")),
        "<?status=todo&limit=5&cursor=abc>; rel=\"next\""
    );
    // However a client spelled them, `cursor` and `offset` go; keys that merely start
    // like them stay.
    assert_eq!(
        link(Some("%63ursor=old&off%73et=2&cursorx=1&&sort=title")),
        "<?cursorx=1&sort=title&cursor=abc>; rel=\"next\""
    );
    assert_eq!(decoded("a+b%2Fc%zz"), b"a b/c%zz");
}
