//! The upstreams as pacer's settings give them, seen by the limiter and by
//! the workers: each upstream's proxy configuration, the warnings its
//! limits deserve, whether a run needs proxies at all, and the variables
//! (`PACER_UPSTREAM_<NAME>`, `PACER_UPSTREAMS`) that tell workers where to
//! call.

use pacer_limiter::{env_var_name, UpstreamConfig};
use pacer_settings::{Settings, Upstream};

/// The limiter's view of an upstream as configured in pacer's settings:
/// the limits are the limiter's own type, passed as they are. A shared
/// backend namespaces its keys by the run id (`--run-id`, else the CI's),
/// so that the shards of one CI run share one limit and another run's
/// leftovers never count; with no run id, by the upstream's URL. A pacer
/// that loses the backend goes on at `rate / N` (`--shard K/N`).
pub fn upstream_config(upstream: &Upstream, settings: &Settings) -> UpstreamConfig {
    UpstreamConfig {
        name: upstream.name.clone(),
        url: upstream.url.clone(),
        limits: upstream.limits.clone(),
        rate_configured: upstream.rate_configured(),
        namespace: settings.run_id().value.clone().unwrap_or_default(),
        shards: settings.shard().value.map_or(1, |s| s.count),
    }
}

/// Warnings to print before the run: limits that cap the rate below `rate`
/// whatever the API allows (a long `min_delay`, a small `max_concurrent`).
pub fn warnings(settings: &Settings) -> Vec<String> {
    settings
        .upstreams()
        .iter()
        .flat_map(|u| {
            u.limits
                .warnings()
                .into_iter()
                .map(move |w| format!("upstream {}: {w}", u.name))
        })
        .collect()
}

/// Whether this run needs proxies: rate limiting is on, upstreams are
/// configured, and some selected category is rate limited.
pub fn wanted(settings: &Settings, selected_rate_limited: bool) -> bool {
    settings.rate_limit_enabled().value && selected_rate_limited && !settings.upstreams().is_empty()
}

/// The variables workers get when no proxy runs (rate limiting turned off):
/// each upstream's own URL, so tests written against `PACER_UPSTREAM_<NAME>`
/// still run, unpaced.
pub fn direct_env(settings: &Settings) -> Vec<(String, String)> {
    worker_env(
        settings
            .upstreams()
            .iter()
            .map(|u| (u.name.as_str(), u.url.clone())),
    )
}

/// Set for the workers beside the URLs: each upstream's name and the
/// variable its URL is in, as JSON. The worker plugin's `pacer_upstream(name)`
/// (`fixtures.py`) looks the name up here, so pacer alone names the variables.
pub const UPSTREAMS_VAR: &str = "PACER_UPSTREAMS";

/// `PACER_UPSTREAM_<NAME>=URL` for each `(name, URL)`, and [`UPSTREAMS_VAR`].
pub(super) fn worker_env<'a>(
    upstreams: impl Iterator<Item = (&'a str, String)>,
) -> Vec<(String, String)> {
    let mut names = serde_json::Map::new();
    let mut env = Vec::new();
    for (name, url) in upstreams {
        let var = env_var_name(name);
        names.insert(name.to_owned(), var.clone().into());
        env.push((var, url));
    }
    if !names.is_empty() {
        env.push((
            UPSTREAMS_VAR.to_owned(),
            serde_json::Value::Object(names).to_string(),
        ));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_get_each_url_and_the_variable_each_name_is_in() {
        let env = worker_env(
            [
                ("my-api", "http://a".to_owned()),
                ("b.2", "http://b".to_owned()),
            ]
            .into_iter(),
        );
        assert_eq!(
            env[0],
            ("PACER_UPSTREAM_MY_API".to_owned(), "http://a".to_owned())
        );
        assert_eq!(
            env[1],
            ("PACER_UPSTREAM_B_2".to_owned(), "http://b".to_owned())
        );
        assert_eq!(env[2].0, UPSTREAMS_VAR);
        let names: serde_json::Value = serde_json::from_str(&env[2].1).unwrap();
        assert_eq!(
            names,
            serde_json::json!({"my-api": "PACER_UPSTREAM_MY_API", "b.2": "PACER_UPSTREAM_B_2"})
        );
        assert!(worker_env(std::iter::empty()).is_empty());
    }
}
