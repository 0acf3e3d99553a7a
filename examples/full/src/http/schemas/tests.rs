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
