//! The architecture's rules, checked on the manifests and sources (see ARCHITECTURE.md):
//! only the engine depends on delta-rs and DataFusion; `meta` and `engine` know nothing of
//! each other or of the server; route modules never import one another.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// Every dependency a crate's manifest names, in any dependency table.
fn dependencies(krate: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(workspace().join("crates").join(krate).join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    let mut names = BTreeSet::new();
    let mut tables: Vec<&toml::Table> = Vec::new();
    for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
        tables.extend(manifest.get(key).and_then(|v| v.as_table()));
    }
    if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
        for target in targets.values().filter_map(|t| t.as_table()) {
            for key in ["dependencies", "dev-dependencies"] {
                tables.extend(target.get(key).and_then(|v| v.as_table()));
            }
        }
    }
    for table in tables {
        for (name, spec) in table {
            // A renamed dependency counts as the package it is.
            let package = spec.get("package").and_then(|p| p.as_str()).unwrap_or(name);
            names.insert(package.to_owned());
        }
    }
    names
}

const CRATES: [&str; 5] = ["model", "meta", "engine", "server", "cli"];

#[test]
fn only_the_engine_depends_on_delta_rs_and_datafusion() {
    for krate in CRATES.iter().filter(|k| **k != "engine") {
        let heavy: Vec<String> = dependencies(krate)
            .into_iter()
            .filter(|d| d == "deltalake" || d.starts_with("deltalake-") || d.starts_with("datafusion"))
            .collect();
        assert!(heavy.is_empty(), "crates/{krate} depends on {heavy:?}; only crates/engine may");
    }
    assert!(dependencies("engine").contains("deltalake"), "the check reads the manifests");
}

#[test]
fn meta_and_engine_know_nothing_of_each_other_or_the_server() {
    let (meta, engine, model) = (dependencies("meta"), dependencies("engine"), dependencies("model"));
    for (krate, deps, forbidden) in [
        ("meta", &meta, &["lakeward-engine", "lakeward-server"][..]),
        ("engine", &engine, &["lakeward-meta", "lakeward-server"][..]),
        ("model", &model, &["lakeward-meta", "lakeward-engine", "lakeward-server"][..]),
    ] {
        for f in forbidden {
            assert!(!deps.contains(*f), "crates/{krate} depends on {f}");
        }
    }
    assert!(meta.contains("lakeward-model") && engine.contains("lakeward-model"), "the check reads the manifests");
}

#[test]
fn route_modules_do_not_import_each_other() {
    let routes = workspace().join("crates/server/src/routes");
    let modules: Vec<String> = std::fs::read_dir(&routes)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && p.file_stem().is_some_and(|s| s != "mod"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(modules.len() > 5, "{modules:?}");
    let mut found = Vec::new();
    for module in &modules {
        let source = std::fs::read_to_string(routes.join(format!("{module}.rs"))).unwrap();
        for other in modules.iter().filter(|m| *m != module) {
            for path in [format!("super::{other}"), format!("routes::{other}")] {
                let named = source.match_indices(&path).any(|(i, _)| {
                    // `super::rows` but not `super::rows_something`.
                    !source[i + path.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if named {
                    found.push(format!("routes/{module}.rs names {path}"));
                }
            }
        }
    }
    assert!(found.is_empty(), "route modules import each other (move what they share out of routes/): {found:#?}");
}
