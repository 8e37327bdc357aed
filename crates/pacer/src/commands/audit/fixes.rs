//! From what an audit found to what to change: the shared resource, when
//! the report's per-test `touched` record shows one (docs/reports.md:
//! files, environment variables, ports, module-level globals, API calls,
//! recorded with `PACER_TRACE_TOUCHED=1`), and the one-line fix.

use serde::Serialize;

/// One test's `touched` record in the JSON report (absent: nothing known).
pub use pacer_report::schema::TouchedReport as Touched;

/// Adds what `from` touched to `into`, each resource once.
pub fn add(into: &mut Touched, from: &Touched) {
    fn merge<T: Clone + PartialEq>(into: &mut Vec<T>, from: &[T]) {
        for x in from {
            if !into.contains(x) {
                into.push(x.clone());
            }
        }
    }
    let (to, of) = (&mut into.traced, &from.traced);
    merge(&mut to.env, &of.env);
    merge(&mut to.files, &of.files);
    merge(&mut to.ports, &of.ports);
    merge(&mut to.globals, &of.globals);
    merge(&mut into.api, &from.api);
}

/// The shared resources in a test's record, globals first.
pub fn resources(touched: &Touched) -> Vec<Resource> {
    let t = &touched.traced;
    let mut out = Vec::new();
    out.extend(t.globals.iter().map(|g| Resource::new("global", g)));
    out.extend(t.env.iter().map(|e| Resource::new("env", e)));
    out.extend(t.files.iter().map(|f| Resource::new("file", f)));
    out.extend(
        t.ports
            .iter()
            .map(|p| Resource::new("port", &p.to_string())),
    );
    out.extend(touched.api.iter().map(|a| Resource::new("api", a)));
    out
}

/// A shared resource a polluter left changed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Resource {
    /// `global`, `env`, `file`, `port` or `api`.
    pub kind: String,
    pub name: String,
}

impl Resource {
    fn new(kind: &str, name: &str) -> Resource {
        Resource {
            kind: kind.into(),
            name: name.into(),
        }
    }

    pub fn shown(&self) -> String {
        match self.kind.as_str() {
            "global" => format!("module-level global {}", self.name),
            "env" => format!("environment variable {}", self.name),
            "file" => format!("file {}", self.name),
            "port" => format!("port {}", self.name),
            _ => format!("API resource {}", self.name),
        }
    }
}

/// The fix for a polluter that leaves `resource` changed (`None`: nothing
/// visible), in one line.
pub fn for_polluter(polluter: &str, victim: &str, resource: Option<&Resource>) -> String {
    let Some(r) = resource else {
        return format!(
            "{polluter} leaves behind state that {victim} reads: undo it in {polluter} (monkeypatch, tmp_path, or a fixture's teardown)"
        );
    };
    match r.kind.as_str() {
        "global" => {
            let (module, name) = r.name.rsplit_once('.').unwrap_or(("module", &r.name));
            format!(
                "in {polluter}: monkeypatch.setattr({module}, \"{name}\", ...) instead of assigning {}, so that pytest restores it",
                r.name
            )
        }
        "env" => format!(
            "in {polluter}: monkeypatch.setenv(\"{0}\", ...) (or monkeypatch.delenv(\"{0}\")) instead of os.environ, so that pytest restores it",
            r.name
        ),
        "file" => format!(
            "in {polluter}: write {} under tmp_path (pytest's per-test folder), not where other tests look",
            r.name
        ),
        "port" => format!(
            "mark {polluter} and {victim} @pytest.mark.serial (pacer's `serial` category runs them alone), or bind port 0"
        ),
        _ => format!(
            "{polluter} changes {} that {victim} reads: give each test its own (a fixture creating and deleting it), or mark both @pytest.mark.serial",
            r.name
        ),
    }
}

/// The fix for a test that passes only after `setters` ran.
pub fn for_dependent(test: &str, setters: &[String]) -> String {
    match setters {
        [] => format!("{test} fails alone and passed only in some orders: give it the setup it relies on (a fixture)"),
        _ => format!(
            "{test} relies on {} having run first: give it that setup itself (a fixture both use, of the scope they share)",
            setters.join(", ")
        ),
    }
}

/// The fix for a test that fails only while others run beside it.
pub fn for_concurrent(test: &str, beside: &[String], shared: Option<&Resource>) -> String {
    match shared {
        Some(r) if r.kind == "file" => format!(
            "{test} and {} use {} at the same time: give each its own under tmp_path, or mark them @pytest.mark.serial",
            beside.join(", "),
            r.name
        ),
        _ => format!(
            "{test} fails only beside other tests: mark it @pytest.mark.serial (pacer's `serial` category runs it alone){}",
            match shared {
                Some(r) => format!(", or give each test its own {}", r.shown()),
                None => String::new(),
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_resource_kind_has_its_fix() {
        let g = Resource::new("global", "shop.settings.MODE");
        assert!(for_polluter("p", "v", Some(&g))
            .contains("monkeypatch.setattr(shop.settings, \"MODE\""));
        let e = Resource::new("env", "TOKEN");
        assert!(for_polluter("p", "v", Some(&e)).contains("monkeypatch.setenv(\"TOKEN\""));
        let f = Resource::new("file", "outbox/m.txt");
        assert!(for_polluter("p", "v", Some(&f)).contains("tmp_path"));
        let p = Resource::new("port", "8080");
        assert!(for_polluter("p", "v", Some(&p)).contains("serial"));
        assert!(for_polluter("p", "v", None).contains("undo it in p"));
    }
}
