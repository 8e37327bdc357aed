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
    let text = if args.json {
        serde_json::to_string_pretty(&settings.to_json()).unwrap_or_default() + "\n"
    } else {
        settings.render_text()
    };
    // A reader that stops early (`pacer config | head`) is not an error.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    Ok(pacer_types::exit::OK)
}
