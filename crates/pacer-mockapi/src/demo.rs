//! The demo application ([`App::Demo`](crate::App::Demo), `--app demo`): the
//! small REST API that the demo suite's client
//! (`examples/demo/src/demo_client`) and end-to-end tests call.
//!
//! The server admits a request (limit, refusals, latency: as for the echo
//! app) and then asks [`DemoApi::respond`] for the answer. Everything is in
//! memory and lives as long as the server; `POST /__reset` leaves it alone.
//! Every answer is JSON, errors being `{"error": "..."}`:
//!
//! - `GET /health`: `{"status": "ok"}`.
//! - `GET /resources?limit=L&offset=O`: `{"items": [...], "total": 25}`, a
//!   page (limit 10 and offset 0 unless given) of 25 fixed resources
//!   `{"id": "tech_01", "name": "Technician 1", "status": "active",
//!   "language": "en"}` to `tech_25`, every fourth one `inactive`; 400 if
//!   `limit` or `offset` is not a whole number.
//! - `GET /resources/{id}`: that resource, or 404.
//! - `POST /activities`: a JSON object with string `resource_id`, `type` and
//!   `day` (any other fields kept as sent) is stored with a new `id` (1, 2,
//!   ...) and answered with 201; 422 if `resource_id` names no resource, 400
//!   if the body is not such an object.
//! - `GET /activities/{id}`: a stored activity, or 404.
//! - anything else: 404.

use std::sync::{Mutex, MutexGuard, PoisonError};

use http::StatusCode;
use serde_json::{json, Value};

use crate::query::query_param;

/// How many resources the demo API has.
const RESOURCES: u32 = 25;

/// The demo API's data.
#[derive(Debug)]
pub(crate) struct DemoApi {
    resources: Vec<Value>,
    /// Activity `n` is at index `n - 1`: nothing is ever deleted.
    activities: Mutex<Vec<Value>>,
}

fn error(status: StatusCode, message: impl Into<String>) -> (StatusCode, Value) {
    (status, json!({ "error": message.into() }))
}

impl DemoApi {
    pub(crate) fn new() -> Self {
        let resources = (1..=RESOURCES)
            .map(|n| {
                json!({
                    "id": format!("tech_{n:02}"),
                    "name": format!("Technician {n}"),
                    "status": if n % 4 == 0 { "inactive" } else { "active" },
                    "language": "en",
                })
            })
            .collect();
        Self {
            resources,
            activities: Mutex::new(Vec::new()),
        }
    }

    /// The answer to an admitted request: its status and JSON body.
    pub(crate) fn respond(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> (StatusCode, Value) {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match (method, segments.as_slice()) {
            ("GET", ["health"]) => (StatusCode::OK, json!({ "status": "ok" })),
            ("GET", ["resources"]) => self.page(query),
            ("GET", ["resources", id]) => match self.resource(id) {
                Some(resource) => (StatusCode::OK, resource.clone()),
                None => error(StatusCode::NOT_FOUND, format!("no resource {id}")),
            },
            ("POST", ["activities"]) => self.create_activity(body),
            ("GET", ["activities", id]) => match self.activity(id) {
                Some(activity) => (StatusCode::OK, activity),
                None => error(StatusCode::NOT_FOUND, format!("no activity {id}")),
            },
            _ => error(StatusCode::NOT_FOUND, format!("no route {method} {path}")),
        }
    }

    /// The stored activities; the lock guards plain data and is never held
    /// across an `.await`, so a poisoned one is still sound.
    fn activities(&self) -> MutexGuard<'_, Vec<Value>> {
        self.activities
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn resource(&self, id: &str) -> Option<&Value> {
        self.resources.iter().find(|r| r["id"] == id)
    }

    fn page(&self, query: Option<&str>) -> (StatusCode, Value) {
        let number = |name: &str, default: usize| match query_param(query, name) {
            None => Ok(default),
            Some(value) => value
                .parse::<usize>()
                .map_err(|_| format!("{name} must be a whole number, got {value:?}")),
        };
        let (limit, offset) = match (number("limit", 10), number("offset", 0)) {
            (Ok(limit), Ok(offset)) => (limit, offset),
            (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, e),
        };
        let items: Vec<&Value> = self.resources.iter().skip(offset).take(limit).collect();
        (
            StatusCode::OK,
            json!({ "items": items, "total": self.resources.len() }),
        )
    }

    fn create_activity(&self, body: &[u8]) -> (StatusCode, Value) {
        let Ok(Value::Object(mut activity)) = serde_json::from_slice::<Value>(body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "malformed activity: not a JSON object",
            );
        };
        if let Some(field) = ["resource_id", "type", "day"]
            .into_iter()
            .find(|field| !activity.get(*field).is_some_and(Value::is_string))
        {
            return error(
                StatusCode::BAD_REQUEST,
                format!("malformed activity: no string {field:?}"),
            );
        }
        let resource_id = activity["resource_id"].as_str().unwrap_or_default();
        if self.resource(resource_id).is_none() {
            let message = format!("unknown resource {resource_id}");
            return error(StatusCode::UNPROCESSABLE_ENTITY, message);
        }
        let mut activities = self.activities();
        activity.insert("id".into(), (activities.len() + 1).into());
        let activity = Value::Object(activity);
        activities.push(activity.clone());
        (StatusCode::CREATED, activity)
    }

    fn activity(&self, id: &str) -> Option<Value> {
        if !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let index = id.parse::<usize>().ok()?.checked_sub(1)?;
        self.activities().get(index).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(api: &DemoApi, path: &str, query: Option<&str>) -> (StatusCode, Value) {
        api.respond("GET", path, query, b"")
    }

    #[test]
    fn resources_page_and_count() {
        let api = DemoApi::new();
        let (status, page) = get(&api, "/resources", None);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["total"], 25);
        assert_eq!(page["items"].as_array().unwrap().len(), 10);
        assert_eq!(page["items"][0]["id"], "tech_01");
        let (_, last) = get(&api, "/resources", Some("limit=10&offset=20"));
        let ids: Vec<&str> = last["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["tech_21", "tech_22", "tech_23", "tech_24", "tech_25"]);
        assert_eq!(last["items"][3]["status"], "inactive");
        let (_, past) = get(&api, "/resources", Some("offset=99"));
        assert_eq!(past["items"], json!([]));
        let (status, bad) = get(&api, "/resources", Some("limit=-1"));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }

    #[test]
    fn activities_get_ids_in_order() {
        let api = DemoApi::new();
        let body =
            br#"{"resource_id": "tech_02", "type": "repair", "day": "2024-06-01", "id": 99}"#;
        let (status, created) = api.respond("POST", "/activities", None, body);
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(created["id"], 1);
        assert_eq!(get(&api, "/activities/1", None), (StatusCode::OK, created));
        for missing in ["/activities/0", "/activities/2", "/activities/+1"] {
            assert_eq!(
                get(&api, missing, None).0,
                StatusCode::NOT_FOUND,
                "{missing}"
            );
        }
    }

    #[test]
    fn bad_activities_are_refused() {
        let api = DemoApi::new();
        let unknown = br#"{"resource_id": "nobody", "type": "repair", "day": "2024-06-01"}"#;
        let (status, answer) = api.respond("POST", "/activities", None, unknown);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(answer["error"], "unknown resource nobody");
        for body in [&b"[]"[..], b"not json", br#"{"resource_id": "tech_01"}"#] {
            let (status, _) = api.respond("POST", "/activities", None, body);
            assert_eq!(status, StatusCode::BAD_REQUEST);
        }
        assert!(api.activities().is_empty());
    }

    #[test]
    fn other_routes_are_404() {
        let api = DemoApi::new();
        for (method, path) in [("POST", "/health"), ("GET", "/activities"), ("GET", "/x")] {
            let (status, answer) = api.respond(method, path, None, b"");
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
            assert!(answer["error"].as_str().unwrap().contains("no route"));
        }
    }
}
