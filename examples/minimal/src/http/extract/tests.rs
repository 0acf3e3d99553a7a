use super::*;

fn headers(xff: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", xff.parse().unwrap());
    headers
}

#[test]
fn without_trusted_proxies_the_header_is_ignored() {
    let peer: IpAddr = "10.0.0.9".parse().unwrap();
    assert_eq!(forwarded_client(peer, &headers("1.2.3.4"), 0), peer);
}

#[test]
fn with_one_proxy_the_rightmost_entry_is_the_client_and_forged_ones_are_skipped() {
    let peer: IpAddr = "10.0.0.9".parse().unwrap();
    let forged_then_real = headers("6.6.6.6, 203.0.113.7");
    assert_eq!(
        forwarded_client(peer, &forged_then_real, 1),
        "203.0.113.7".parse::<IpAddr>().unwrap()
    );
    assert_eq!(
        forwarded_client(peer, &forged_then_real, 2),
        "6.6.6.6".parse::<IpAddr>().unwrap()
    );
    assert_eq!(forwarded_client(peer, &headers("garbage"), 1), peer);
    assert_eq!(
        forwarded_client(peer, &headers("203.0.113.7:51234"), 1),
        "203.0.113.7".parse::<IpAddr>().unwrap()
    );
    assert_eq!(forwarded_client(peer, &HeaderMap::new(), 1), peer);
}
