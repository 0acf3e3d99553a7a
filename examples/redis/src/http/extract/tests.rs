use super::*;

fn headers(xff: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", xff.parse().unwrap());
    headers
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Our load balancers live in 10.0.0.0/8.
fn proxies() -> TrustedProxies {
    TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()])
}

#[test]
fn without_trusted_proxies_the_header_is_ignored() {
    let peer = ip("10.0.0.9");
    let none = TrustedProxies::default();
    assert_eq!(forwarded_client(peer, &headers("1.2.3.4"), &none), peer);
}

#[test]
fn a_peer_that_is_not_a_trusted_proxy_is_the_client_whatever_it_writes() {
    let stranger = ip("203.0.113.50");
    assert_eq!(
        forwarded_client(stranger, &headers("1.2.3.4"), &proxies()),
        stranger
    );
}

#[test]
fn with_one_proxy_the_rightmost_entry_is_the_client_and_forged_ones_are_skipped() {
    let peer = ip("10.0.0.9");
    let forged_then_real = headers("6.6.6.6, 203.0.113.7");
    assert_eq!(
        forwarded_client(peer, &forged_then_real, &proxies()),
        ip("203.0.113.7")
    );
    assert_eq!(
        forwarded_client(peer, &headers("203.0.113.7:51234"), &proxies()),
        ip("203.0.113.7")
    );
    // Nothing usable: the proxy itself is the last address anyone vouched for.
    assert_eq!(
        forwarded_client(peer, &headers("garbage"), &proxies()),
        peer
    );
    assert_eq!(forwarded_client(peer, &HeaderMap::new(), &proxies()), peer);
}

#[test]
fn the_chain_is_followed_through_our_proxies_only_and_never_past_a_stranger() {
    let peer = ip("10.0.0.9");
    // Two of our proxies in a row (an edge, then an internal balancer): both are skipped.
    assert_eq!(
        forwarded_client(peer, &headers("6.6.6.6, 203.0.113.7, 10.1.2.3"), &proxies()),
        ip("203.0.113.7")
    );
    // Fewer entries than proxies: the single entry is the client, never a guess further left.
    assert_eq!(
        forwarded_client(peer, &headers("203.0.113.7"), &proxies()),
        ip("203.0.113.7")
    );
    // A header split over two lines is one list, in order.
    let mut split = headers("6.6.6.6");
    split.append("x-forwarded-for", "203.0.113.7".parse().unwrap());
    assert_eq!(
        forwarded_client(peer, &split, &proxies()),
        ip("203.0.113.7")
    );
    // Garbage behind a stranger's address changes nothing; garbage in front of it ends the
    // chain at the last address our proxies vouched for.
    assert_eq!(
        forwarded_client(peer, &headers("garbage, 203.0.113.7"), &proxies()),
        ip("203.0.113.7")
    );
    assert_eq!(
        forwarded_client(peer, &headers("203.0.113.7, garbage, 10.1.2.3"), &proxies()),
        ip("10.1.2.3")
    );
}

#[test]
fn an_ipv4_peer_of_a_dual_stack_listener_matches_ipv4_networks() {
    let mapped = ip("::ffff:10.0.0.9");
    assert_eq!(
        forwarded_client(mapped, &headers("203.0.113.7"), &proxies()),
        ip("203.0.113.7")
    );
    assert_eq!(
        forwarded_client(ip("::ffff:203.0.113.50"), &headers("1.2.3.4"), &proxies()),
        ip("203.0.113.50")
    );
}
