//! The layers, as a test: which of our crates each crate may depend on, and which of the
//! ecosystem's I/O crates the pure ones may not. The compiler refuses an import of a crate
//! that is not a dependency; this holds the dependency lists themselves to the picture in
//! docs/architecture.md, so that a layer cannot be crossed by adding a line to a manifest.

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Each crate, the crates of ours it may depend on, and the crates it must not.
    const LAYERS: &[(&str, &[&str], &[&str])] = &[
        ("domain", &[], &["tokio", "sqlx", "reqwest", "axum"]),
        (
            "wire",
            &["carat-domain"],
            &["tokio", "sqlx", "reqwest", "axum"],
        ),
        ("sandbox", &["carat-domain", "carat-wire"], &["sqlx"]),
        ("store", &["carat-domain"], &["reqwest", "axum"]),
        (
            "core",
            &["carat-domain", "carat-wire", "carat-store"],
            &["axum", "tower-http"],
        ),
    ];

    fn dependencies(manifest: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(manifest).unwrap();
        let manifest: toml::Table = toml::from_str(&text).unwrap();
        manifest
            .get("dependencies")
            .and_then(toml::Value::as_table)
            .map(|deps| deps.keys().cloned().collect())
            .unwrap_or_default()
    }

    #[test]
    fn each_crate_depends_only_on_the_layers_below_it() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for (dir, ours, forbidden) in LAYERS {
            let deps = dependencies(&root.join("crates").join(dir).join("Cargo.toml"));
            for dep in deps.iter().filter(|d| d.starts_with("carat-")) {
                assert!(
                    ours.contains(&dep.as_str()),
                    "crates/{dir} may not depend on {dep}"
                );
            }
            for dep in *forbidden {
                assert!(
                    !deps.iter().any(|d| d == dep),
                    "crates/{dir} may not depend on {dep}"
                );
            }
        }
    }
}
