//! GitHub's workflow commands (`::error file=..,line=..::message`), with
//! their escaping as `@actions/core` does it: in the message `%`, `\r` and
//! `\n`; in a property value also `:` and `,`, which would end it.

/// A token no test output can guess, for `::stop-commands::<token>`.
pub fn fence_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    // Seeded from the OS's randomness for each process.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.write_u32(std::process::id());
    format!("pacer-{:016x}", hasher.finish())
}

/// Escapes a command's message.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property's value (`file=`, `title=`).
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// `::name key=value,...::message`, properties without a value left out.
pub fn command(name: &str, properties: &[(&str, Option<String>)], message: &str) -> String {
    let properties: Vec<String> = properties
        .iter()
        .filter_map(|(key, value)| {
            value
                .as_ref()
                .map(|v| format!("{key}={}", escape_property(v)))
        })
        .collect();
    let space = if properties.is_empty() { "" } else { " " };
    format!(
        "::{name}{space}{}::{}",
        properties.join(","),
        escape_data(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_actions_core() {
        assert_eq!(escape_data("50%\r\nnext: a,b"), "50%25%0D%0Anext: a,b");
        assert_eq!(
            escape_property("t.py::test[a,b] 5%\n"),
            "t.py%3A%3Atest[a%2Cb] 5%25%0A"
        );
    }

    #[test]
    fn commands_leave_out_missing_properties() {
        let line = command(
            "error",
            &[
                ("file", Some("tests/t.py".into())),
                ("line", None),
                ("title", Some("t.py::x".into())),
            ],
            "assert 1 == 2\nwhere",
        );
        assert_eq!(
            line,
            "::error file=tests/t.py,title=t.py%3A%3Ax::assert 1 == 2%0Awhere"
        );
        assert_eq!(command("notice", &[], "3 more"), "::notice::3 more");
    }
}
