//! A request's query string, as both apps read it (the echo app's
//! `/stream/{n}?interval_ms=M`, the demo API's paging).

/// The value of the first `name` parameter in `query` (`""` for a bare
/// `name`), undecoded.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| value.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params() {
        assert_eq!(
            query_param(Some("a=1&interval_ms=20"), "interval_ms").as_deref(),
            Some("20")
        );
        assert_eq!(query_param(Some("flag"), "flag").as_deref(), Some(""));
        assert_eq!(query_param(None, "a"), None);
    }
}
