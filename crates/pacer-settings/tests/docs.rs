//! docs/configuration.md carries the environment table rendered from the one
//! declaration in `env.rs`; this test keeps the two equal. Run with
//! `PACER_BLESS=1` to rewrite the file after changing the table.

use std::path::Path;

const BEGIN: &str = "<!-- begin: env table (generated; PACER_BLESS=1 cargo test -p pacer-settings --test docs) -->\n";
const END: &str = "<!-- end: env table -->";

#[test]
fn configuration_doc_has_the_current_env_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let doc = std::fs::read_to_string(&path).expect("docs/configuration.md exists");
    let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len();
    let end = doc.find(END).expect("end marker");
    let table = pacer_settings::env_table_markdown();
    if std::env::var_os("PACER_BLESS").is_some() {
        let fresh = format!("{}{table}{}", &doc[..start], &doc[end..]);
        std::fs::write(&path, fresh).unwrap();
        return;
    }
    assert_eq!(&doc[start..end], table, "docs/configuration.md is stale: run PACER_BLESS=1 cargo test -p pacer-settings --test docs");
}
