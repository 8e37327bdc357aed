//! A failure's text (pytest's `longrepr`) as the reports write it: the
//! JUnit file's `<failure>` text, the JSON report's `output`.

/// A failure's text as pytest's XML holds it (`str(report.longrepr)`):
/// stripped, and without the colours a worker adds under `--color=yes`.
pub fn plain(longrepr: &str) -> String {
    let mut out = String::with_capacity(longrepr.len());
    let mut rest = longrepr;
    while let Some(start) = rest.find("\x1b[") {
        out.push_str(&rest[..start]);
        let code = &rest[start + 2..];
        match code.find(|c: char| !(c.is_ascii_digit() || c == ';')) {
            Some(end) if code[end..].starts_with('m') => rest = &code[end + 1..],
            _ => {
                out.push('\x1b');
                rest = &rest[start + 1..];
            }
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_text_is_stripped_of_colour_and_edges() {
        assert_eq!(
            plain("\n    def t():\n\x1b[1m\x1b[31mE   assert 1\x1b[0m\n\x1b[94m5\x1b[39;49;00m\n"),
            "def t():\nE   assert 1\n5"
        );
        assert_eq!(plain("a \x1b b"), "a \x1b b", "a lone escape is kept");
    }
}
