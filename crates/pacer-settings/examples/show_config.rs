//! Prints `pacer config` for a directory: `cargo run -p pacer-settings --example show_config -- DIR [--json]`.

use pacer_settings::{CliOverrides, ProcessEnv, Settings};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .first()
        .map_or_else(|| std::env::current_dir().unwrap(), Into::into);
    match Settings::resolve(&dir, &CliOverrides::default(), &ProcessEnv) {
        Ok(s) if args.iter().any(|a| a == "--json") => {
            println!("{}", serde_json::to_string_pretty(&s.to_json()).unwrap())
        }
        Ok(s) => print!("{}", s.render_text()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(e.exit_code());
        }
    }
}
