//! `pacer doctor`: where a suite's time goes. One sequential `python -m
//! pytest` run with a timing plugin only doctor loads (`pacer_doctor.py`,
//! embedded here) and Python's `-X importtime`, the upstreams' proxies
//! around it as in a run; then the slowest imports, modules, fixtures and
//! tests, the lower bound for this machine, and advice (docs/measure.md).

mod analysis;
mod waiting;

use crate::scratch::Scratch;
use std::io::Write;
use std::process::{Command, Stdio};

use pacer_types::exit;

use crate::cli::DoctorArgs;
use crate::error::Error;
use crate::session::{self, Purpose};
use crate::upstreams;
use analysis::{CategoryInfo, Diagnosis, Inputs, UpstreamLoad};

const PLUGIN: &str = include_str!("pacer_doctor.py");

pub fn doctor(args: DoctorArgs) -> Result<i32, Error> {
    let settings = session::settings_noted(&args.common)?;
    let prepared = session::prepare(
        &settings,
        &args.common,
        args.pytest.pytest_args.clone(),
        Purpose::Run,
    )?;
    let scratch = Scratch::new("doctor").map_err(|source| Error::Plugin { source })?;
    let plugin_dir = scratch.dir().to_path_buf();
    std::fs::write(plugin_dir.join("pacer_doctor.py"), PLUGIN)
        .map_err(|source| Error::Plugin { source })?;
    let out = plugin_dir.join("timings.json");

    let limited = prepared
        .config
        .categories
        .iter()
        .any(|c| c.selected && c.rate_limited);
    let proxies = upstreams::start(&settings, limited).map_err(|error| Error::Proxies { error })?;
    let mut env = prepared.config.launch.env.clone();
    env.extend(proxies.env.iter().cloned());
    eprintln!("pacer doctor: running the suite once, sequentially, with timing hooks...");
    // `--capture=sys` keeps the tests' output captured while `-X
    // importtime` (written by the interpreter to fd 2) reaches us.
    let output = Command::new(&prepared.python)
        .args(["-X", "importtime", "-m", "pytest", "-p", "pacer_doctor"])
        .arg("--capture=sys")
        .args(&prepared.pytest_args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("PYTHONPATH", scratch.python_path())
        .env("PACER_DOCTOR_OUT", &out)
        .current_dir(&prepared.cwd)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::SequentialPytest {
            python: prepared.python.clone(),
            source,
        })?;
    let upstream_reports = proxies.shutdown();
    let timings: analysis::Timings = match std::fs::read_to_string(&out)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
    {
        Some(t) => t,
        None => {
            // pytest's own words: the end of its output, and its stderr
            // without the interpreter's import timings.
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            let mut lines: Vec<&str> = stdout.lines().collect();
            lines.extend(stderr.lines().filter(|l| !l.starts_with("import time:")));
            let tail = &lines[lines.len().saturating_sub(20)..];
            let code = output.status.code();
            eprintln!(
                "error: pytest ended ({}) before the doctor's plugin could report:\n{}",
                code.map_or_else(
                    || "killed by a signal".to_string(),
                    |c| format!("exit code {c}")
                ),
                tail.join("\n")
            );
            return Ok(code
                .filter(|&c| c != exit::OK)
                .unwrap_or(exit::INTERNAL_ERROR));
        }
    };
    let imports = analysis::parse_importtime(&String::from_utf8_lossy(&output.stderr));

    let workers = settings.worker_count().max(1);
    let categories = settings
        .categories()
        .ordered()
        .iter()
        .chain(std::iter::once(settings.categories().default_category()))
        .map(|c| CategoryInfo {
            name: c.name.clone(),
            slots: if c.exclusive {
                1
            } else if c.kind == pacer_settings::Kind::Io {
                c.max_workers.max(1)
            } else {
                c.max_workers.clamp(1, workers)
            },
        })
        .collect();
    let upstream_loads = upstream_reports
        .iter()
        .filter(|u| u.stats.requests > 0 && u.stats.configured_rate > 0.0)
        .map(|u| UpstreamLoad {
            name: u.stats.name.clone(),
            requests: u.stats.requests,
            configured_rate: u.stats.configured_rate,
            bound: u.stats.requests as f64 / u.stats.configured_rate,
        })
        .collect();
    let categorize = |id: &str, markers: &[String]| settings.categorize(id, markers).name.clone();
    let exitstatus = timings.exitstatus;
    let diagnosis = analysis::diagnose(Inputs {
        timings,
        imports,
        workers,
        top: args.top.max(1),
        categorize: &categorize,
        categories,
        upstreams: upstream_loads,
    });
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let _ = writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&diagnosis).unwrap_or_default()
        );
    } else {
        print_diagnosis(&mut stdout, &diagnosis);
    }
    if exitstatus != exit::OK && exitstatus != exit::TESTS_FAILED {
        eprintln!("pacer doctor: pytest exited with {exitstatus}; the timings cover what ran");
    }
    Ok(exit::OK)
}

fn print_diagnosis(out: &mut dyn Write, d: &Diagnosis) {
    let _ = writeln!(
        out,
        "pacer doctor: {} tests, {:.2} s of tests, session {:.2} s (collection {:.2} s), sequential run",
        d.tests,
        d.work,
        d.session,
        d.collection.unwrap_or(0.0)
    );
    let _ = writeln!(out, "\nslowest imports (self time, -X importtime):");
    for i in &d.imports {
        let by = i
            .imported_by
            .as_deref()
            .map(|b| format!("  (first by {b})"))
            .unwrap_or_default();
        let _ = writeln!(out, "  {:>7.3} s  {}{by}", i.seconds, i.module);
    }
    let _ = writeln!(out, "\nimport and collection per module:");
    for m in &d.modules {
        let _ = writeln!(out, "  {:>7.3} s  {}", m.seconds, m.id);
    }
    let _ = writeln!(out, "\nheaviest fixtures (setup):");
    for f in &d.fixtures {
        let _ = writeln!(
            out,
            "  {:>7.3} s  {} ({} scope, {} setup{}, longest {:.3} s)",
            f.seconds,
            f.name,
            f.scope,
            f.setups,
            if f.setups == 1 { "" } else { "s" },
            f.longest
        );
    }
    let _ = writeln!(out, "\nlongest tests (setup + call + teardown):");
    for t in &d.slowest {
        let _ = writeln!(out, "  {:>7.3} s  {}  [{}]", t.seconds, t.id, t.category);
    }
    if !d.waiting.is_empty() {
        let _ = writeln!(
            out,
            "\ntests that wait most (wall - CPU - queued for a core, and what their sampled stacks showed):"
        );
        for w in &d.waiting {
            let _ = writeln!(out, "  {}", waiting::line(w));
        }
    }
    if !d.upstreams.is_empty() {
        let _ = writeln!(out, "\nrate-limited upstreams:");
        for u in &d.upstreams {
            let _ = writeln!(
                out,
                "  {}: {} requests at {:.2} req/s: {:.2} s at least",
                u.name, u.requests, u.configured_rate, u.bound
            );
        }
    }
    let _ = writeln!(
        out,
        "\nlower bound for {} worker(s): {:.2} s (the most of: work / workers, the longest test, each category's work / its cap, each upstream's requests / rate)",
        d.workers, d.bound
    );
    if d.advice.is_empty() {
        let _ = writeln!(out, "\nadvice: nothing stands out");
    } else {
        let _ = writeln!(out, "\nadvice:");
        for a in &d.advice {
            let _ = writeln!(out, "  - {}", a.text);
        }
    }
}
