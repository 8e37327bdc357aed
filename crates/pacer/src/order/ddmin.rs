//! Delta debugging (Zeller's ddmin): the smallest subset of a list, in its
//! order, for which a test still holds, found with few probes. Pure: the
//! probe is a closure, so the algorithm is tested without pytest.

use std::collections::HashMap;

/// The smallest subset of `items` (1-minimal: removing any one element
/// makes `holds` false), in the items' order, for which `holds` is true.
/// `holds(items)` is assumed true. Each distinct subset is probed once.
pub fn ddmin<T: Clone>(items: &[T], mut holds: impl FnMut(&[T]) -> bool) -> Vec<T> {
    let mut seen: HashMap<Vec<usize>, bool> = HashMap::new();
    let mut probe = |subset: &[usize]| -> bool {
        if let Some(known) = seen.get(subset) {
            return *known;
        }
        let chosen: Vec<T> = subset.iter().map(|&i| items[i].clone()).collect();
        let result = holds(&chosen);
        seen.insert(subset.to_vec(), result);
        result
    };
    let mut current: Vec<usize> = (0..items.len()).collect();
    if current.is_empty() || probe(&[]) {
        return Vec::new();
    }
    let mut n = 2usize;
    while current.len() >= 2 {
        let chunks = split(&current, n);
        let mut reduced = false;
        // A chunk alone first (the usual case: one polluter), then the
        // complements (polluters that act only together).
        for chunk in &chunks {
            if probe(chunk) {
                current = chunk.clone();
                n = 2;
                reduced = true;
                break;
            }
        }
        if !reduced && n > 2 {
            for i in 0..chunks.len() {
                let complement: Vec<usize> = chunks
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .flat_map(|(_, c)| c.iter().copied())
                    .collect();
                if probe(&complement) {
                    current = complement;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= current.len() {
                break;
            }
            n = (n * 2).min(current.len());
        }
    }
    current.into_iter().map(|i| items[i].clone()).collect()
}

/// `items` cut into `n` consecutive parts of nearly equal length.
fn split(items: &[usize], n: usize) -> Vec<Vec<usize>> {
    let n = n.min(items.len()).max(1);
    let mut parts = Vec::with_capacity(n);
    let mut start = 0;
    for i in 0..n {
        let end = start + (items.len() - start) / (n - i);
        parts.push(items[start..end].to_vec());
        start = end;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_polluter_among_many_is_found() {
        let items: Vec<u32> = (0..40).collect();
        let mut probes = 0;
        let found = ddmin(&items, |s| {
            probes += 1;
            s.contains(&17)
        });
        assert_eq!(found, vec![17]);
        assert!(probes < 20, "{probes} probes");
    }

    #[test]
    fn polluters_that_act_only_together_are_both_kept_in_order() {
        let items: Vec<u32> = (0..16).collect();
        let found = ddmin(&items, |s| s.contains(&3) && s.contains(&12));
        assert_eq!(found, vec![3, 12]);
    }

    #[test]
    fn nothing_is_needed_when_the_empty_set_holds() {
        assert!(ddmin(&[1, 2, 3], |_| true).is_empty());
    }

    #[test]
    fn a_lone_item_is_kept() {
        assert_eq!(ddmin(&[5], |s| s == [5]), vec![5]);
    }
}
