// Rebuild when a migration is added or changed: `sqlx::migrate!()` embeds the files at compile
// time, and Cargo does not otherwise know that it reads them.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
