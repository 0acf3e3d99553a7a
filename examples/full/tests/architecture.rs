//! The layer rule, checked on the source: `http` calls `app`, `app` works on `domain` and on
//! ports (traits) that `infra` implements, and `domain` depends on nothing of ours. The
//! modules that serve every layer (`error`, `context`, `config`, `telemetry`) depend on no
//! layer above them, and `startup` alone puts everything together.
//!
//! Two kinds of leak fail this test, each with the file named: a `crate::` path to a module
//! the part may not use, and a path into an external crate the part must not know (HTTP in
//! `domain` or `app`, SQL in `http`). Every file of `src` must belong to a part.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

/// The web stack: routing, middleware, the OpenAPI document.
const WEB: &[&str] = &[
    "axum",
    "hyper",
    "tower",
    "tower_http",
    "tower_governor",
    "utoipa",
    "utoipa_axum",
];
/// Storage: SQL and Redis.
const STORAGE: &[&str] = &["sqlx", "redis"];
/// Clients of other systems over the network.
const NETWORK: &[&str] = &["reqwest", "lettre"];

/// A part of `src` (a folder, or a file at the root): the modules of ours it may name after
/// `crate::`, and the external crates it must not name.
struct Part {
    path: &'static str,
    may_use: &'static [&'static str],
    must_not_use: &'static [&'static [&'static str]],
}

// ANCHOR: rules
const PARTS: &[Part] = &[
    Part {
        path: "domain",
        may_use: &["domain"],
        must_not_use: &[WEB, STORAGE, NETWORK],
    },
    Part {
        path: "app",
        may_use: &["app", "domain", "error", "config", "context"],
        must_not_use: &[WEB, STORAGE, NETWORK],
    },
    Part {
        path: "infra",
        may_use: &["infra", "app", "domain", "error", "config"],
        must_not_use: &[WEB],
    },
    Part {
        path: "http",
        may_use: &[
            "http",
            "app",
            "domain",
            "error",
            "config",
            "context",
            "telemetry",
        ],
        must_not_use: &[STORAGE],
    },
    Part {
        path: "error.rs",
        may_use: &[],
        must_not_use: &[WEB, STORAGE, NETWORK],
    },
    Part {
        path: "context.rs",
        may_use: &[],
        must_not_use: &[WEB, STORAGE, NETWORK],
    },
    Part {
        path: "config",
        may_use: &["config", "domain"],
        must_not_use: &[WEB, STORAGE],
    },
    Part {
        path: "telemetry.rs",
        may_use: &["config"],
        must_not_use: &[STORAGE, &["utoipa"]],
    },
    // Wiring: the composition root and the crate's entry points may use everything.
    Part {
        path: "startup",
        may_use: &[
            "startup",
            "http",
            "app",
            "domain",
            "infra",
            "error",
            "config",
            "context",
            "telemetry",
        ],
        must_not_use: &[],
    },
    Part {
        path: "lib.rs",
        may_use: &[],
        must_not_use: &[],
    },
    Part {
        path: "main.rs",
        may_use: &[],
        must_not_use: &[],
    },
];
// ANCHOR_END: rules

#[test]
fn every_part_depends_only_on_what_it_may() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).unwrap().display().to_string();
        let Some(part) = part_of(&relative) else {
            violations.push(format!(
                "{relative}: belongs to no part of tests/architecture.rs; give it one"
            ));
            continue;
        };
        checked += 1;
        let source = std::fs::read_to_string(&file).unwrap();
        violations.extend(check(&relative, &source, part));
    }
    assert!(checked >= 40, "the source files were found ({checked})");
    assert!(
        violations.is_empty(),
        "layer boundaries crossed (see docs, day 37):\n{}",
        violations.join("\n")
    );
}

/// The part a file of `src` belongs to: its folder, or itself at the root.
fn part_of(relative: &str) -> Option<&'static Part> {
    let top = relative.split(['/', '\\']).next()?;
    PARTS.iter().find(|part| part.path == top)
}

/// The violations in one file of `part`.
fn check(file: &str, source: &str, part: &Part) -> Vec<String> {
    let mut violations = Vec::new();
    let code = without_comments(source);
    if code.contains("super::super") {
        violations.push(format!(
            "{file}: `super::super` reaches past its part; name the module with `crate::`"
        ));
    }
    let wiring = part.may_use.is_empty() && part.must_not_use.is_empty();
    for module in crate_modules(&code) {
        if !wiring && !part.may_use.contains(&module.as_str()) {
            violations.push(format!("{file}: uses crate::{module}"));
        }
    }
    let local = local_modules(&code);
    for krate in part.must_not_use.iter().copied().flatten() {
        if !local.contains(*krate) && names_crate(&code, krate) {
            violations.push(format!("{file}: uses the {krate} crate"));
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
    files.sort();
    files
}

/// The source without `//` comments (doc comments mention other layers freely). A `//` inside
/// a string literal (a URL) is not a comment.
fn without_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| &line[..comment_start(line).unwrap_or(line.len())])
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where a line's `//` comment starts, outside string literals.
fn comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let (mut in_string, mut i) = (false, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' if !(i > 0 && bytes[i - 1] == b'\'' && bytes.get(i + 1) == Some(&b'\'')) => {
                in_string = !in_string;
            }
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The modules a file declares (`mod redis;`): their names shadow crates of the same name.
fn local_modules(code: &str) -> BTreeSet<String> {
    code.lines()
        .filter_map(|line| {
            let line = line
                .trim()
                .trim_start_matches("pub ")
                .trim_start_matches("pub(crate) ");
            line.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_owned)
        })
        .collect()
}

/// True when `code` holds a path that starts with `krate::` or `::krate::` (not
/// `other::krate::`), or `use krate;`.
fn names_crate(code: &str, krate: &str) -> bool {
    let path = format!("{krate}::");
    code.match_indices(&path).any(|(at, _)| {
        let before = &code[..at];
        let extern_path = before.ends_with("::")
            && !before[..before.len() - 2]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let previous = before.chars().next_back();
        extern_path || !previous.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
    }) || code.contains(&format!("use {krate};"))
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
fn the_check_catches_each_kind_of_leak() {
    let part = |path| part_of(path).unwrap();
    let source = "use crate::domain::user::Email;\n\
                  use crate::{\n    infra::postgres::connect,\n    http::extract::JsonBody,\n};\n";
    assert_eq!(
        check("domain/task.rs", source, part("domain/task.rs")),
        [
            "domain/task.rs: uses crate::http",
            "domain/task.rs: uses crate::infra"
        ]
    );
    assert_eq!(
        check(
            "app/tasks/mod.rs",
            "use axum::Json;",
            part("app/tasks/mod.rs")
        ),
        ["app/tasks/mod.rs: uses the axum crate"]
    );
    assert_eq!(
        check(
            "http/tasks/mod.rs",
            "fn f(db: &sqlx::PgPool) {}",
            part("http/tasks/mod.rs")
        ),
        ["http/tasks/mod.rs: uses the sqlx crate"]
    );
    assert_eq!(
        check(
            "error.rs",
            "use crate::http::problem::Problem;",
            part("error.rs")
        ),
        ["error.rs: uses crate::http"]
    );
    assert_eq!(
        check(
            "domain/task.rs",
            "#[derive(utoipa::ToSchema)] struct T;",
            part("domain/task.rs")
        ),
        ["domain/task.rs: uses the utoipa crate"]
    );
    assert_eq!(
        check(
            "domain/task.rs",
            "use super::super::infra::x;",
            part("domain/task.rs")
        ),
        ["domain/task.rs: `super::super` reaches past its part; name the module with `crate::`"]
    );
    assert!(
        part_of("leak.rs").is_none(),
        "a new root module needs a part"
    );
    // `::sqlx::` is the crate too; a URL in a string does not end the code.
    assert_eq!(
        check(
            "domain/task.rs",
            "fn f(_: ::sqlx::PgPool) {}",
            part("domain/task.rs")
        ),
        ["domain/task.rs: uses the sqlx crate"]
    );
    let after_url = "let u = \"https://x\"; let p: axum::Json<()>;";
    assert_eq!(
        check("app/users.rs", after_url, part("app/users.rs")),
        ["app/users.rs: uses the axum crate"]
    );
    // A module of the file's own may share a crate's name.
    let own = "mod redis;\npub use redis::RedisConfig;";
    assert!(check("config/mod.rs", own, part("config/mod.rs")).is_empty());
    // Comments may name anything; nested groups count only their outer names; a path that
    // merely ends in a crate's name is not that crate.
    let fine = "// see crate::infra::postgres and axum::Json\n\
                use crate::{domain::{task::Task, user::{Caller}}};\n\
                fn f() { let _ = my_axum::x; let _ = crate::domain::sqlx::y; }";
    assert!(check("domain/task.rs", fine, part("domain/task.rs")).is_empty());
}
