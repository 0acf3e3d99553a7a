use super::*;

#[test]
fn the_documented_names_are_the_wire_names() {
    crate::http::schemas::same_names::<EventType>();
    crate::http::schemas::same_names::<DeliveryStatus>();
}
