use super::*;

#[test]
fn roles_round_trip_through_their_names() {
    for role in [Role::User, Role::Admin] {
        assert_eq!(role.as_str().parse::<Role>(), Ok(role));
    }
    assert!("root".parse::<Role>().is_err());
    assert!(Role::Admin > Role::User);
}

#[test]
fn email_keys_ignore_case_and_surrounding_space() {
    assert_eq!(email_key("  Ada@Example.COM "), "ada@example.com");
    let email = Email::try_from("  Ada@Example.COM ".to_owned()).unwrap();
    assert_eq!(email.as_str(), "Ada@Example.COM");
    assert_eq!(email.key(), "ada@example.com");
}

#[test]
fn account_values_are_checked_when_they_are_made() {
    assert!(Email::try_from("not an email".to_owned()).is_err());
    assert!(Email::try_from(format!("{}@example.com", "a".repeat(250))).is_err());
    assert!(DisplayName::try_from("  ".to_owned()).is_err());
    assert!(DisplayName::try_from("two\nlines".to_owned()).is_err());
    assert!(DisplayName::try_from(format!("{} ", "x".repeat(100))).is_err());
    assert_eq!(
        DisplayName::try_from(" Ada ".to_owned()).unwrap().as_str(),
        "Ada"
    );
    assert!(NewPassword::try_from("short".to_owned()).is_err());
    assert!(NewPassword::try_from("é".repeat(129)).is_err());
    assert!(
        NewPassword::try_from("é".repeat(12)).is_ok(),
        "characters, not bytes"
    );
    assert!(Password::try_from(String::new()).is_err());
    assert!(
        Password::try_from("short".to_owned()).is_ok(),
        "login takes any length"
    );
    let password = NewPassword::try_from("correct horse battery".to_owned()).unwrap();
    assert_eq!(format!("{password:?}"), "[REDACTED]");
}

#[test]
fn control_characters_are_found() {
    assert!(has_control_chars("line\nbreak"));
    assert!(has_control_chars("bell\u{7}"));
    assert!(!has_control_chars("Zoë O'Brien <b>"));
}
