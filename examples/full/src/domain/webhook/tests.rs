use super::*;

fn secret() -> WebhookSecret {
    // The secret of the Standard Webhooks specification's example.
    WebhookSecret::decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
}

#[test]
fn the_signature_matches_the_standard_webhooks_example() {
    let body = br#"{"test": 2432232314}"#;
    let signature = secret().sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
    assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

#[test]
fn verification_refuses_tampering_other_secrets_and_old_timestamps() {
    let id = "msg_1";
    let now = 1_700_000_000;
    let body = br#"{"kind":"created"}"#;
    let window = Duration::from_secs(300);
    let signed = secret().sign(id, now, body);
    let ts = now.to_string();
    assert_eq!(
        verify(&secret(), id, &ts, &signed, body, now + 10, window),
        Ok(())
    );
    let tampered = br#"{"kind":"deleted"}"#;
    assert_eq!(
        verify(&secret(), id, &ts, &signed, tampered, now, window),
        Err(VerifyError::BadSignature)
    );
    let other = WebhookSecret::generate();
    assert_eq!(
        verify(&other, id, &ts, &signed, body, now, window),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        verify(&secret(), "msg_2", &ts, &signed, body, now, window),
        Err(VerifyError::BadSignature),
        "the id is signed too"
    );
    assert_eq!(
        verify(&secret(), id, &ts, &signed, body, now + 301, window),
        Err(VerifyError::OutsideTolerance)
    );
    assert_eq!(
        verify(&secret(), id, &ts, &signed, body, now - 301, window),
        Err(VerifyError::OutsideTolerance)
    );
    assert_eq!(
        verify(&secret(), id, "yesterday", &signed, body, now, window),
        Err(VerifyError::BadTimestamp)
    );
}

#[test]
fn during_rotation_either_secret_verifies() {
    let (old, new) = (secret(), WebhookSecret::generate());
    let header = signature_header(&[&new, &old], "msg_1", 100, b"{}");
    assert_eq!(header.split(' ').count(), 2);
    let window = Duration::from_secs(300);
    assert_eq!(
        verify(&old, "msg_1", "100", &header, b"{}", 100, window),
        Ok(())
    );
    assert_eq!(
        verify(&new, "msg_1", "100", &header, b"{}", 100, window),
        Ok(())
    );
}

#[test]
fn secrets_round_trip_and_never_print() {
    let secret = WebhookSecret::generate();
    let encoded = secret.encode();
    assert!(encoded.starts_with("whsec_"));
    assert_eq!(WebhookSecret::decode(&encoded), Some(secret.clone()));
    assert!(!format!("{secret:?}").contains(&encoded[6..]));
    assert_eq!(WebhookSecret::decode("whsec_c2hvcnQ="), None, "too short");
}

#[test]
fn only_public_https_urls_pass_the_strict_policy() {
    let strict = UrlPolicy {
        allow_http: false,
        allow_private: false,
    };
    assert!(check_url("https://hooks.example.com/in?x=1", strict).is_ok());
    assert!(
        check_url("https://[64:ff9b::808:808]/in", strict).is_ok(),
        "NAT64 of 8.8.8.8"
    );
    let long = format!("https://hooks.example.com/{}", "é".repeat(1000));
    assert!(
        long.len() < 2100 && check_url(&long, strict).is_err(),
        "too long once encoded"
    );
    for refused in [
        "http://hooks.example.com/in",
        "ftp://hooks.example.com/in",
        "https://user:pw@hooks.example.com/in",
        "https://127.0.0.1/in",
        "https://10.1.2.3/in",
        "https://192.168.1.1/in",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/in",
        "https://[::1]/in",
        "https://[fd00::1]/in",
        "https://[::ffff:127.0.0.1]/in",
        "https://[64:ff9b::a00:1]/in",
        "https://[2002:a00:1::1]/in",
        "https://[::127.0.0.1]/in",
        "https://localhost/in",
        "https://api.localhost/in",
        "https://metadata.google.internal/in",
        "https://0.0.0.0/in",
        "not a url",
    ] {
        assert!(
            check_url(refused, strict).is_err(),
            "{refused} must be refused"
        );
    }
    let development = UrlPolicy {
        allow_http: true,
        allow_private: true,
    };
    assert!(check_url("http://127.0.0.1:9000/in", development).is_ok());
}

#[test]
fn the_retry_matrix() {
    let status = |code, retry_after| AttemptOutcome::Status { code, retry_after };
    assert_eq!(next_step(&status(200, None)), NextStep::Delivered);
    assert_eq!(next_step(&status(204, None)), NextStep::Delivered);
    assert_eq!(
        next_step(&status(500, None)),
        NextStep::Retry { at_least: None }
    );
    assert_eq!(
        next_step(&status(503, None)),
        NextStep::Retry { at_least: None }
    );
    assert_eq!(
        next_step(&status(429, Some(Duration::from_secs(30)))),
        NextStep::Retry {
            at_least: Some(Duration::from_secs(30))
        }
    );
    assert_eq!(
        next_step(&status(429, Some(Duration::from_secs(86_400)))),
        NextStep::Retry {
            at_least: Some(MAX_RETRY_AFTER)
        }
    );
    assert_eq!(
        next_step(&status(408, None)),
        NextStep::Retry { at_least: None }
    );
    assert_eq!(
        next_step(&AttemptOutcome::Timeout),
        NextStep::Retry { at_least: None }
    );
    assert_eq!(
        next_step(&AttemptOutcome::Unreachable),
        NextStep::Retry { at_least: None }
    );
    assert_eq!(next_step(&status(301, None)), NextStep::Dead);
    assert_eq!(next_step(&status(400, None)), NextStep::Dead);
    assert_eq!(next_step(&status(401, None)), NextStep::Dead);
    assert_eq!(next_step(&status(404, None)), NextStep::Dead);
    assert_eq!(next_step(&status(410, None)), NextStep::Dead);
}

#[test]
fn a_signature_header_past_its_bounds_is_refused_before_any_signature_is_computed() {
    let body = br#"{"kind":"created"}"#;
    let window = Duration::from_secs(300);
    let valid = secret().sign("msg_1", 100, body);
    // Eight candidates, the valid one last: accepted.
    let eight = format!("{} {valid}", ["v1,AAAA"; MAX_SIGNATURES - 1].join(" "));
    assert_eq!(
        verify(&secret(), "msg_1", "100", &eight, body, 100, window),
        Ok(())
    );
    // A ninth candidate, even with the valid one among them: refused as a whole.
    let nine = format!("v1,AAAA {eight}");
    assert_eq!(
        verify(&secret(), "msg_1", "100", &nine, body, 100, window),
        Err(VerifyError::TooManySignatures)
    );
    // Thousands of empty candidates, or one long one: refused without an HMAC over the body.
    let flood = "v1, ".repeat(5_000);
    assert_eq!(
        verify(&secret(), "msg_1", "100", &flood, body, 100, window),
        Err(VerifyError::TooManySignatures)
    );
    let long = format!("{valid} v2,{}", "A".repeat(MAX_SIGNATURE_HEADER));
    assert_eq!(
        verify(&secret(), "msg_1", "100", &long, body, 100, window),
        Err(VerifyError::TooManySignatures)
    );
    // A tag of the wrong length is a mismatch, not a panic.
    assert_eq!(
        verify(&secret(), "msg_1", "100", "v1,AAAA", body, 100, window),
        Err(VerifyError::BadSignature)
    );
}
