//! What `pacer measure` prints: a row per category, then the comparison.

use std::io::Write;

use super::compare::Change;
use super::schema::Measurement;

fn secs(s: f64) -> String {
    format!("{s:.2} s")
}

pub fn print_table(out: &mut dyn Write, m: &Measurement) {
    let _ = writeln!(
        out,
        "pacer measure: {} worker(s), {} core(s), {} repeat(s){}",
        m.workers,
        m.cores,
        m.repeat,
        if m.baseline { ", sequential only" } else { "" }
    );
    let width = m
        .categories
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0)
        .max("category".len());
    let _ = writeln!(
        out,
        "{:<width$}  {:>5}  {:>10}  {:>10}  {:>7}  {:>9}  {:>10}",
        "category", "tests", "sequential", "parallel", "speedup", "bound", "efficiency"
    );
    for c in &m.categories {
        let dash = || "-".to_string();
        let _ = writeln!(
            out,
            "{:<width$}  {:>5}  {:>10}  {:>10}  {:>7}  {:>9}  {:>10}",
            c.name,
            c.tests,
            secs(c.sequential.wall),
            c.parallel.as_ref().map_or_else(dash, |p| secs(p.wall)),
            c.speedup.map_or_else(dash, |s| format!("{s:.2}x")),
            secs(c.bound),
            c.efficiency
                .map_or_else(dash, |e| format!("{:.0}%", e * 100.0)),
        );
        for u in &c.upstreams {
            let _ = writeln!(
                out,
                "  {}: {} requests, {:.2} req/s achieved of {:.2} configured",
                u.name, u.requests, u.achieved_rate, u.configured_rate
            );
        }
    }
}

pub fn print_changes(out: &mut dyn Write, previous: &Measurement, changes: &[Change]) {
    let _ = writeln!(
        out,
        "compared with the measure of {}{}:",
        previous.timestamp,
        previous
            .git_commit
            .as_deref()
            .map(|c| format!(" (commit {})", &c[..c.len().min(12)]))
            .unwrap_or_default()
    );
    if changes.is_empty() {
        let _ = writeln!(out, "  no category was measured both times");
    }
    for c in changes {
        let _ = writeln!(
            out,
            "  {} {}: {} -> {} ({:+.0}%, noise {:.0}%){}",
            c.category,
            c.mode,
            secs(c.before),
            secs(c.after),
            c.ratio() * 100.0,
            c.threshold * 100.0,
            if c.regressed { "  SLOWER" } else { "" }
        );
    }
    let slower = changes.iter().filter(|c| c.regressed).count();
    if slower > 0 {
        let _ = writeln!(out, "{slower} regression(s) beyond the noise");
    }
}
