//! README.md and docs/configuration.md carry the environment table rendered
//! from the one declaration in `env.rs`; this test keeps them equal. Run with
//! `PACER_BLESS=1` to rewrite the files after changing the table.

use std::path::Path;

const BEGIN: &str = "<!-- begin: env table (generated; PACER_BLESS=1 cargo test -p pacer-settings --test docs) -->\n";
const END: &str = "<!-- end: env table -->";

#[test]
fn configuration_doc_has_the_current_env_table() {
    check("docs/configuration.md");
}

#[test]
fn readme_has_the_current_env_table() {
    check("README.md");
}

fn check(file: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(file);
    let doc = std::fs::read_to_string(&path).expect("the document exists");
    let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len();
    let end = doc.find(END).expect("end marker");
    let table = pacer_settings::env_table_markdown();
    if std::env::var_os("PACER_BLESS").is_some() {
        let fresh = format!("{}{table}{}", &doc[..start], &doc[end..]);
        std::fs::write(&path, fresh).unwrap();
        return;
    }
    assert_eq!(
        &doc[start..end],
        table,
        "{file} is stale: run PACER_BLESS=1 cargo test -p pacer-settings --test docs"
    );
}
