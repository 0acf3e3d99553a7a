use super::*;

fn content(title: &str) -> TaskContent {
    TaskContent {
        title: Title::try_from(title.to_owned()).unwrap(),
        description: Description::default(),
        status: TaskStatus::Todo,
        due_at: None,
    }
}

#[test]
fn titles_are_trimmed_bounded_and_single_line() {
    assert_eq!(
        Title::try_from("  Buy milk ".to_owned()).unwrap().as_str(),
        "Buy milk"
    );
    assert!(Title::try_from("   ".to_owned()).is_err());
    assert!(Title::try_from("x".repeat(201)).is_err());
    assert!(
        Title::try_from("é".repeat(200)).is_ok(),
        "characters, not bytes"
    );
    assert!(Title::try_from("two\nlines".to_owned()).is_err());
    // The limits apply to what was sent, as the OpenAPI document states them.
    assert!(Title::try_from(format!(" {} ", "x".repeat(199))).is_err());
    assert!(Title::try_from("Buy milk\n".to_owned()).is_err());
}

#[test]
fn descriptions_allow_newlines_but_not_other_control_characters() {
    assert!(Description::try_from("line one\nline two\ttab".to_owned()).is_ok());
    assert!(Description::try_from("bell\u{7}".to_owned()).is_err());
    assert!(Description::try_from("x".repeat(10_001)).is_err());
}

#[test]
fn status_moves_are_explicit() {
    use TaskStatus::*;
    assert!(Todo.can_become(InProgress) && Todo.can_become(Done));
    assert!(InProgress.can_become(Done) && InProgress.can_become(Todo));
    assert!(Done.can_become(Todo), "reopen");
    assert!(
        !Done.can_become(InProgress),
        "a done task is reopened first"
    );
    for status in [Todo, InProgress, Done] {
        assert!(status.can_become(status));
        assert_eq!(status.as_str().parse::<TaskStatus>(), Ok(status));
    }
}

#[test]
fn patches_change_only_what_they_name_and_respect_transitions() {
    let task = Task::new(Uuid::now_v7(), content("Write"), Utc::now());
    let done = task
        .apply(TaskPatch {
            status: Some(TaskStatus::Done),
            ..TaskPatch::default()
        })
        .unwrap();
    assert_eq!(done.title, task.title);
    assert_eq!(done.status, TaskStatus::Done);
    let err = done
        .apply(TaskPatch {
            status: Some(TaskStatus::InProgress),
            ..TaskPatch::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("reopen it first"), "{err}");
}
