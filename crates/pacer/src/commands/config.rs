//! `pacer config [--json]`: every effective setting, its value and where it
//! came from.

use crate::cli::ConfigArgs;
use crate::error::Error;

pub fn config(args: ConfigArgs) -> Result<i32, Error> {
    let settings = super::settings(&args.common)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&settings.to_json()).unwrap_or_default()
        );
    } else {
        print!("{}", settings.render_text());
    }
    Ok(pacer_types::exit::OK)
}
