//! `pacer config [--json]`: every effective setting, its value and where it
//! came from; `--defaults`: every key with its default and meaning.

use crate::cli::ConfigArgs;
use crate::error::Error;
use crate::session;

pub fn config(args: ConfigArgs) -> Result<i32, Error> {
    // A wheel's user has no clone: the commented defaults come from the binary.
    if args.defaults {
        let _ = std::io::Write::write_all(
            &mut std::io::stdout().lock(),
            pacer_settings::DEFAULT_CONFIG_TOML.as_bytes(),
        );
        return Ok(pacer_types::exit::OK);
    }
    let settings = session::settings(&args.common)?;
    let mut rows = settings.rows();
    // `auto` says what it resolves to for this suite: the cores, or more
    // for a suite whose recorded tests wait (issue 21), and why.
    if settings.workers().value == pacer_settings::Workers::Auto && !settings.sequential().value {
        if let Some(row) = rows.iter_mut().find(|r| r.key == "workers") {
            let cache = settings.project_root().join(".pytest_cache");
            row.value = serde_json::json!(format!(
                "auto → {}",
                session::explain_workers(
                    settings.cores(),
                    settings.max_wait_workers().value as usize,
                    &session::io_category_names(&settings),
                    &cache
                )
            ));
        }
    }
    let text = if args.json {
        serde_json::to_string_pretty(&settings.rows_json(rows)).unwrap_or_default() + "\n"
    } else {
        settings.render_rows(rows)
    };
    // A reader that stops early (`pacer config | head`) is not an error.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    Ok(pacer_types::exit::OK)
}
