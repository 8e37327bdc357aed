//! Delta debugging (Zeller's ddmin): the smallest subset of a list, in its
//! order, for which a test still holds, found with few probes; and
//! [`minimal`], which first looks for the shortest prefix that holds (the
//! usual polluter is one test, whose effect lasts: log2(N) probes), then
//! tries its last item alone, and runs ddmin only when that is not enough.
//! Pure: the probe is a closure, so the algorithm is tested without pytest.

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

/// A 1-minimal subset of `items` for which `holds` is true, given that it
/// holds for all of them and not for none. The shortest prefix that holds
/// is found by bisection (every set returned was probed, so a prefix that
/// holds only by accident of a later "cleaner" test is still a true answer);
/// its last item alone, when that holds, is the answer (the common case);
/// else ddmin over the prefix.
pub fn minimal<T: Clone>(items: &[T], mut holds: impl FnMut(&[T]) -> bool) -> Vec<T> {
    if items.is_empty() {
        return Vec::new();
    }
    // holds(items[..hi]) is known true, holds(items[..lo]) false.
    let (mut lo, mut hi) = (0, items.len());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if holds(&items[..mid]) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let last = &items[hi - 1..hi];
    if hi == 1 || holds(last) {
        return last.to_vec();
    }
    ddmin(&items[..hi], holds)
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
    fn minimal_finds_one_polluter_in_log_probes() {
        let items: Vec<u32> = (0..64).collect();
        let mut probes = 0;
        let found = minimal(&items, |s| {
            probes += 1;
            s.contains(&41)
        });
        assert_eq!(found, vec![41]);
        assert!(probes <= 7, "{probes} probes");
    }

    #[test]
    fn minimal_falls_back_to_ddmin_for_polluters_acting_together() {
        let items: Vec<u32> = (0..16).collect();
        let found = minimal(&items, |s| s.contains(&3) && s.contains(&9));
        assert_eq!(found, vec![3, 9]);
        // A later test that undoes the pollution: what is returned holds.
        let found = minimal(&items, |s| {
            s.contains(&2) && !s.contains(&5) || s.contains(&12)
        });
        assert!(found == vec![2] || found == vec![12], "{found:?}");
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
