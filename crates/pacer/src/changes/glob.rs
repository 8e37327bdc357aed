//! `changed_always`'s globs: `*` and `?` within one path segment, `**`
//! across segments; a glob without `/` matches a file's name anywhere.

/// Whether `path` (relative, `/`-separated) matches `glob`.
pub fn matches(glob: &str, path: &str) -> bool {
    let glob = glob.trim_start_matches("./");
    if !glob.contains('/') {
        let name = path.rsplit('/').next().unwrap_or(path);
        return segment(glob.as_bytes(), name.as_bytes());
    }
    let globs: Vec<&str> = glob.split('/').collect();
    let parts: Vec<&str> = path.split('/').collect();
    segments(&globs, &parts)
}

fn segments(globs: &[&str], parts: &[&str]) -> bool {
    match globs.split_first() {
        None => parts.is_empty(),
        // `dir/` matches everything under it.
        Some((&"", [])) => true,
        Some((&"**", rest)) => (0..=parts.len()).any(|skip| segments(rest, &parts[skip..])),
        Some((glob, rest)) => match parts.split_first() {
            Some((part, others)) => {
                segment(glob.as_bytes(), part.as_bytes()) && segments(rest, others)
            }
            None => false,
        },
    }
}

fn segment(glob: &[u8], name: &[u8]) -> bool {
    match (glob.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            segment(&glob[1..], name) || (!name.is_empty() && segment(glob, &name[1..]))
        }
        (Some(b'?'), Some(_)) => segment(&glob[1..], &name[1..]),
        (Some(g), Some(n)) if g == n => segment(&glob[1..], &name[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_stay_in_a_segment_and_double_stars_cross_them() {
        assert!(matches("*.json", "data/deep/x.json"));
        assert!(matches("data/*.csv", "data/a.csv"));
        assert!(!matches("data/*.csv", "data/sub/a.csv"));
        assert!(matches("data/**", "data/sub/a.csv"));
        assert!(matches("data/**/*.csv", "data/a.csv"));
        assert!(matches("templates/", "templates/x/y.html"));
        assert!(matches("src/?.py", "src/a.py"));
        assert!(!matches("src/?.py", "src/ab.py"));
    }
}
