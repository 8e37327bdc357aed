//! `pacer config`: every effective setting, its value and its source, as
//! aligned text or as JSON. Both are built from one list of [`SettingRow`]s,
//! so the two views never disagree.

use serde::Serialize;
use serde_json::{json, Value};

use crate::rate_limit::{RateLimit, RateLimitSources};
use crate::settings::{Selection, Settings};
use crate::source::Source;

/// One line of `pacer config`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingRow {
    /// Dotted key as in `[tool.pacer]`, e.g. `categories.unit.max_workers`.
    pub key: String,
    pub value: Value,
    /// Display form of the source (`flag --workers`, `env PYTEST_WORKERS`,
    /// `pyproject.toml:12 tool.pacer.workers`, `default`).
    pub source: String,
}

fn secs(d: std::time::Duration) -> Value {
    json!(d.as_secs_f64())
}

fn limit_rows(rows: &mut Vec<SettingRow>, prefix: &str, l: &RateLimit, s: &RateLimitSources) {
    let mut push = |k: &str, v: Value, src: &Source| {
        rows.push(SettingRow {
            key: format!("{prefix}.{k}"),
            value: v,
            source: src.to_string(),
        })
    };
    for (key, value, source) in crate::rate_limit::rows(l, s) {
        push(key, value, source);
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "none".to_string(),
        Value::Array(items) if items.is_empty() => "[]".to_string(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

impl Settings {
    /// Every effective setting with its source, in display order.
    pub fn rows(&self) -> Vec<SettingRow> {
        let mut rows = Vec::new();
        let mut push = |key: &str, value: Value, source: &Source| {
            rows.push(SettingRow {
                key: key.to_string(),
                value,
                source: source.to_string(),
            })
        };
        push(
            "project_root",
            json!(self.project_root.display().to_string()),
            &Source::derived("nearest project marker"),
        );
        let workers = match self.workers.value {
            crate::Workers::Auto => json!(format!("auto ({})", self.cores)),
            crate::Workers::Count(n) => json!(n),
        };
        push("workers", workers, &self.workers.source);
        push(
            "sequential",
            json!(self.sequential.value),
            &self.sequential.source,
        );
        push(
            "python",
            json!(self.python.value.display().to_string()),
            &self.python.source,
        );
        push("debug", json!(self.debug.value), &self.debug.source);
        push(
            "trace_touched",
            json!(self.trace_touched.value),
            &self.trace_touched.source,
        );
        push("fork", json!(self.fork.value), &self.fork.source);
        push(
            "fresh_workers",
            json!(self.fresh_workers.value),
            &self.fresh_workers.source,
        );
        push(
            "collection",
            json!(self.collection.value.as_str()),
            &self.collection.source,
        );
        push(
            "max_worker_restart",
            json!(self.max_worker_restart.value),
            &self.max_worker_restart.source,
        );
        push(
            "max_wait_workers",
            json!(self.max_wait_workers.value),
            &self.max_wait_workers.source,
        );
        push(
            "fallback",
            json!(self.fallback.value),
            &self.fallback.source,
        );
        push(
            "fallback_threshold",
            json!(self.fallback_threshold.value.to_string()),
            &self.fallback_threshold.source,
        );
        push(
            "durations_file",
            json!(self.durations_file.value.display().to_string()),
            &self.durations_file.source,
        );
        // Where durations are written is not a setting but a fact users
        // look for next to the file that is only read.
        push(
            "durations_store",
            json!(self
                .project_root
                .join(".pytest_cache/v/pacer/durations")
                .display()
                .to_string()),
            &Source::Derived {
                how: "written every run, in pytest's cache_dir; -p no:cacheprovider turns it off"
                    .into(),
            },
        );
        push(
            "timeout",
            self.timeout.value.map_or(Value::Null, secs),
            &self.timeout.source,
        );
        push(
            "collect_timeout",
            self.collect_timeout.value.map_or(Value::Null, secs),
            &self.collect_timeout.source,
        );
        push(
            "exit_grace",
            secs(self.exit_grace.value),
            &self.exit_grace.source,
        );
        push(
            "shard",
            self.shard
                .value
                .map_or(Value::Null, |s| json!(s.to_string())),
            &self.shard.source,
        );
        push(
            "changed",
            self.changed
                .value
                .as_ref()
                .map_or(Value::Null, |r| json!(r)),
            &self.changed.source,
        );
        push(
            "changed_always",
            json!(self.changed_always.value),
            &self.changed_always.source,
        );
        push(
            "run_id",
            self.run_id
                .value
                .as_ref()
                .map_or(Value::Null, |id| json!(id)),
            &self.run_id.source,
        );
        push(
            "reruns",
            json!(self.reruns.count.value),
            &self.reruns.count.source,
        );
        push(
            "reruns_delay",
            secs(self.reruns.delay.value),
            &self.reruns.delay.source,
        );
        push(
            "flaky_result",
            json!(self.reruns.flaky_result.value.as_str()),
            &self.reruns.flaky_result.source,
        );
        push(
            "pytest_args",
            json!(self.pytest_args.value),
            &self.pytest_args.source,
        );
        let selection = match &self.selection.value {
            Selection::All => json!("all"),
            Selection::Only(names) => json!(names),
        };
        push("selected_categories", selection, &self.selection.source);
        push(
            "rate_limit.enabled",
            json!(self.rate_limit_enabled.value),
            &self.rate_limit_enabled.source,
        );
        limit_rows(
            &mut rows,
            "rate_limit",
            &self.rate_limit,
            &self.rate_limit_sources,
        );
        for up in &self.upstreams {
            let prefix = format!("upstreams.{}", up.name);
            rows.push(SettingRow {
                key: format!("{prefix}.url"),
                value: json!(pacer_limiter::redact_url(&up.url)),
                source: up.url_source.to_string(),
            });
            limit_rows(&mut rows, &prefix, &up.limits, &up.sources);
        }
        for cat in self.categories.iter() {
            let p = format!("categories.{}", cat.name);
            let s = &cat.sources;
            let mut push = |k: &str, v: Value, src: &Source| {
                rows.push(SettingRow {
                    key: format!("{p}.{k}"),
                    value: v,
                    source: src.to_string(),
                })
            };
            if cat.name != crate::DEFAULT_CATEGORY {
                push("paths", json!(cat.paths), &s.paths);
                push("markers", json!(cat.markers), &s.markers);
            }
            push("max_workers", json!(cat.max_workers), &s.max_workers);
            push("kind", json!(cat.kind.to_string()), &s.kind);
            push("rate_limited", json!(cat.rate_limited), &s.rate_limited);
            push("exclusive", json!(cat.exclusive), &s.exclusive);
            if cat.name != crate::DEFAULT_CATEGORY {
                push("order", json!(cat.order), &s.order);
            }
            // Shown only where a table sets it; elsewhere `reruns` applies.
            if let Some((_, n)) = self
                .reruns
                .per_category
                .iter()
                .find(|(c, _)| *c == cat.name)
            {
                push("reruns", json!(n.value), &n.source);
            }
        }
        for var in &self.worker_env {
            rows.push(SettingRow {
                key: format!("worker_env.{}", var.name),
                value: json!(var.value),
                source: var.source.to_string(),
            });
        }
        rows
    }

    /// `pacer config` as aligned text: key, value, source.
    pub fn render_text(&self) -> String {
        self.render_rows(self.rows())
    }

    /// [`Settings::render_text`] of `rows` (the command may say more of a
    /// value than the settings know, as the workers `auto` resolves to).
    pub fn render_rows(&self, rows: Vec<SettingRow>) -> String {
        let values: Vec<String> = rows.iter().map(|r| text_of(&r.value)).collect();
        let key_w = rows
            .iter()
            .map(|r| r.key.chars().count())
            .max()
            .unwrap_or(0);
        let val_w = values
            .iter()
            .map(|v| v.chars().count())
            .max()
            .unwrap_or(0)
            .min(60);
        let mut out = String::new();
        if let Some(file) = &self.config_file {
            let section = if file.prefix.is_empty() {
                String::new()
            } else {
                format!(" [{}]", file.prefix)
            };
            out.push_str(&format!(
                "# config file: {}{section}\n",
                file.path.display()
            ));
        } else {
            out.push_str("# config file: none\n");
        }
        for note in &self.notes {
            out.push_str(&format!("# note: {note}\n"));
        }
        for (row, value) in rows.iter().zip(&values) {
            let line = format!("{:key_w$}  {:val_w$}  {}", row.key, value, row.source);
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// `pacer config --json`: the same rows, plus categories, upstreams and
    /// the worker environment as structured objects.
    pub fn to_json(&self) -> Value {
        self.rows_json(self.rows())
    }

    /// [`Settings::to_json`] with `rows` for its settings.
    pub fn rows_json(&self, rows: Vec<SettingRow>) -> Value {
        json!({
            "project_root": self.project_root.display().to_string(),
            "config_file": self.config_file,
            "notes": self.notes,
            "settings": rows,
            "categories": self.categories.iter().collect::<Vec<_>>(),
            "upstreams": self.upstreams,
            "worker_env": self.worker_env,
        })
    }
}
