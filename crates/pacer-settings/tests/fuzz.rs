//! Issue 11, "bad input never panics": the config reader, the flags and the
//! environment fed with hostile values resolve or fail with an error, never
//! a panic. Property tests (proptest), a few hundred cases each.

use std::collections::HashMap;

use pacer_settings::{CliOverrides, Settings, RATE_LIMIT_KEYS};
use proptest::prelude::*;

/// Numbers and texts that broke, or could break, a conversion.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1e300".to_string()),
        Just("-1e300".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        Just("0".to_string()),
        Just("-0.0".to_string()),
        Just("9223372036854775807".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("1e-300".to_string()),
        Just("\"40/0s\"".to_string()),
        Just("\"1e300/ms\"".to_string()),
        Just("\"0.0000001/d\"".to_string()),
        Just("[429, 70000]".to_string()),
        Just("true".to_string()),
        Just("{}".to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        any::<i64>().prop_map(|n| n.to_string()),
        "\"[ -~]{0,12}\"",
    ]
}

/// Every key of a rate-limit table, `ca_file` included.
const KEYS: &[&str] = RATE_LIMIT_KEYS;

fn resolve(pyproject: &str, cli: &CliOverrides, env: &[(&str, String)]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pyproject.toml"), pyproject).unwrap();
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    // Ok or Err: either is fine, a panic fails the property.
    let _ = Settings::resolve_with_cores(dir.path(), cli, &env, 4);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn hostile_rate_limit_tables_never_panic(
        values in proptest::collection::vec((0..KEYS.len(), hostile_value()), 1..5),
        per_upstream in any::<bool>(),
        timeout in hostile_value(),
    ) {
        let mut text = format!("[tool.pacer]\ntimeout = {timeout}\n\n");
        text.push_str(if per_upstream {
            "[tool.pacer.upstreams.api]\nurl = \"http://u:p@127.0.0.1:9/x\"\n"
        } else {
            "[tool.pacer.rate_limit]\n"
        });
        let mut seen = std::collections::HashSet::new();
        for (key, value) in values {
            if seen.insert(key) {
                text.push_str(&format!("{} = {value}\n", KEYS[key]));
            }
        }
        resolve(&text, &CliOverrides::default(), &[]);
    }

    #[test]
    fn arbitrary_config_text_never_panics(text in "\\PC{0,200}") {
        resolve(&format!("[tool.pacer]\n{text}"), &CliOverrides::default(), &[]);
    }

    #[test]
    fn hostile_flags_and_environment_never_panic(
        a in "\\PC{0,12}", b in "\\PC{0,12}", c in hostile_value(), d in hostile_value(),
    ) {
        let mut cli = CliOverrides {
            timeout: Some(a.clone()),
            upstreams: vec![format!("api={a}"), format!("api=http://{d}@h")],
            ..CliOverrides::default()
        };
        cli.rate_limit.rate = Some(b);
        cli.rate_limit.max_backoff = Some(c.clone());
        resolve("", &cli, &[]);
        resolve(
            "",
            &CliOverrides::default(),
            &[
                ("PACER_TIMEOUT", c.clone()),
                ("PACER_RATE", d.clone()),
                ("PACER_MAX_BACKOFF", a),
                ("PACER_BASE_BACKOFF", d),
                ("PACER_WORKERS", c),
            ],
        );
    }
}
