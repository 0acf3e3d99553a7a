//! The layer rule, checked on the source: `http` calls `app`, `app` works on `domain` and on
//! ports (traits) that `infra` implements, and `domain` depends on nothing of ours. A `use`
//! that crosses a boundary the wrong way fails this test with the file and the module named.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

/// What each layer may name after `crate::`. The crate root (`crate::AppState`, `crate::server`,
/// `crate::telemetry`) is wiring, open to the edge only.
const RULES: &[(&str, &[&str])] = &[
    ("domain", &["domain"]),
    ("app", &["app", "domain", "error", "config"]),
    ("infra", &["infra", "app", "domain", "error", "config"]),
    (
        "http",
        &[
            "http",
            "app",
            "domain",
            "error",
            "config",
            "telemetry",
            "AppState",
        ],
    ),
];

#[test]
fn every_layer_depends_only_on_what_it_may() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut checked = 0;
    for (layer, allowed) in RULES {
        for file in rust_files(&src.join(layer)) {
            checked += 1;
            let source = std::fs::read_to_string(&file).unwrap();
            let relative = file.strip_prefix(&src).unwrap().display().to_string();
            violations.extend(check(&relative, &source, allowed));
        }
    }
    assert!(checked >= 20, "the layers' files were found ({checked})");
    assert!(
        violations.is_empty(),
        "layer boundaries crossed (see docs, day 37):\n{}",
        violations.join("\n")
    );
}

/// The violations in one file of a layer that may name `allowed`.
fn check(file: &str, source: &str, allowed: &[&str]) -> Vec<String> {
    let mut violations = Vec::new();
    let code = without_comments(source);
    if code.contains("super::super") {
        violations.push(format!(
            "{file}: `super::super` reaches past its layer; name the module with `crate::`"
        ));
    }
    for module in crate_modules(&code) {
        if !allowed.contains(&module.as_str()) {
            violations.push(format!("{file}: uses crate::{module}"));
        }
    }
    violations
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// The source without `//` comments (doc comments mention other layers freely).
fn without_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| line.split_once("//").map_or(line, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segment after every `crate::`, including inside grouped imports such as
/// `crate::{app::x, domain::{y, z}}` (only the outermost names count).
fn crate_modules(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut modules = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if !rest.starts_with('{') {
            modules.insert(ident(rest));
            continue;
        }
        let mut depth = 0;
        let mut expect_name = false;
        for (i, c) in rest.char_indices() {
            match c {
                '{' => {
                    depth += 1;
                    expect_name = depth == 1;
                }
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ',' if depth == 1 => expect_name = true,
                c if expect_name && (c.is_alphanumeric() || c == '_') => {
                    modules.insert(ident(&rest[i..]));
                    expect_name = false;
                }
                _ => {}
            }
        }
    }
    modules
}

#[test]
fn the_check_catches_a_domain_type_reaching_into_infra_or_http() {
    let domain = RULES[0].1;
    let source = "use crate::domain::user::Email;\n\
                  use crate::{\n    infra::postgres::connect,\n    http::extract::Json,\n};\n";
    assert_eq!(
        check("domain/task.rs", source, domain),
        [
            "domain/task.rs: uses crate::http",
            "domain/task.rs: uses crate::infra"
        ]
    );
    assert_eq!(
        check("domain/task.rs", "use super::super::infra::x;", domain),
        ["domain/task.rs: `super::super` reaches past its layer; name the module with `crate::`"]
    );
    // Comments may name anything; nested groups count only their outer names.
    let fine = "// see crate::infra::postgres\nuse crate::{domain::{task::Task, user::{Caller}}};";
    assert!(check("domain/task.rs", fine, domain).is_empty());
}
