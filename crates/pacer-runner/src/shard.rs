//! CI shards: the selected tests cut into `N` parts of about equal
//! recorded time, so that `N` machines each run one (`--shard K/N`, or
//! pytest-split's `--splits N --group K`).
//!
//! Pure, and the same on every machine for the same inputs: the machines
//! never talk, so each must compute every part and keep its own. Nothing
//! here looks at the machine (cores, absolute paths), hash maps are only
//! read by key, floats are summed in node-id order, and every tie is
//! broken by a stable key (the file's node id path, then the piece, then
//! the part's number).
//!
//! How: each file is a unit (a file heavier than a part's share is cut at
//! test boundaries, in node-id order, into pieces of at most that share);
//! units go heaviest first to the part with the least time so far
//! (greedy longest-processing-time, whose parts differ by at most the
//! heaviest unit). Files whose time is mostly a rate-limited category go
//! first, per category, each to the part with the least of that category:
//! otherwise an API suite in one or two files would land on one machine
//! and wait on the rate limit there while the others idle. Such a file is
//! cut at that category's share per part, so that even one file of API
//! tests is spread.

use std::collections::HashMap;
use std::fmt;

use crate::category::CategorySpec;
use crate::events::PlannedTest;

/// Part `index` (1-based, as pytest-split's `--group`) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub index: usize,
    pub count: usize,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One selected test, in pytest's order.
#[derive(Debug, Clone, Copy)]
pub struct ShardTest<'a> {
    pub id: &'a str,
    /// The rate-limited category it belongs to (any number naming it), or
    /// `None` for every other test.
    pub rate_group: Option<usize>,
}

/// What one part holds and is predicted to take.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartStats {
    pub tests: usize,
    /// Files with at least one test in the part.
    pub files: usize,
    pub seconds: f64,
}

/// Every part of a selection.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// For each test given, its part (0-based).
    pub part_of: Vec<usize>,
    pub parts: Vec<PartStats>,
    /// Tests with no recorded duration, and the seconds assumed for each.
    pub unrecorded: usize,
    pub estimate: f64,
    /// The heaviest unit (a whole file, or a piece of one cut to its share).
    pub largest_unit: f64,
}

impl Split {
    /// The 0-based indices, into the tests given, of part `part`, in
    /// pytest's order.
    pub fn tests_of(&self, part: Part) -> impl Iterator<Item = usize> + '_ {
        let wanted = part.index - 1;
        self.part_of
            .iter()
            .enumerate()
            .filter(move |(_, p)| **p == wanted)
            .map(|(i, _)| i)
    }

    /// The longest part's time over the shortest's, as a fraction of the
    /// mean: 0 when they are equal.
    pub fn spread(&self) -> f64 {
        let (min, max) = self
            .parts
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
                (lo.min(p.seconds), hi.max(p.seconds))
            });
        let mean = self.parts.iter().map(|p| p.seconds).sum::<f64>() / self.parts.len() as f64;
        if mean > 0.0 {
            (max - min) / mean
        } else {
            0.0
        }
    }
}

/// The plan's selected tests as the shards see them: `(index into
/// planned, test)`, in pytest's order, with each rate-limited category.
/// A run (the pool) and `pacer shard plan`/`verify` both cut through here,
/// so that what they print is what the run keeps.
pub fn selection<'a>(
    planned: &'a [PlannedTest],
    categories: &[CategorySpec],
) -> (Vec<usize>, Vec<ShardTest<'a>>) {
    planned
        .iter()
        .enumerate()
        .filter(|(_, t)| t.selected)
        .map(|(i, t)| {
            let rated = categories.get(t.category).is_some_and(|c| c.rate_limited);
            (
                i,
                ShardTest {
                    id: &t.id,
                    rate_group: rated.then_some(t.category),
                },
            )
        })
        .unzip()
}

/// Which planned tests part `part` keeps (the selected tests of its part),
/// and the whole split.
pub fn keep(
    planned: &[PlannedTest],
    categories: &[CategorySpec],
    durations: &HashMap<String, f64>,
    part: Part,
) -> (Vec<bool>, Split) {
    let (at, tests) = selection(planned, categories);
    let split = split(&tests, durations, part.count);
    let mut kept = vec![false; planned.len()];
    for i in split.tests_of(part) {
        kept[at[i]] = true;
    }
    (kept, split)
}

/// The file a node id belongs to: what a unit is made of.
fn file_of(id: &str) -> &str {
    id.split("::").next().unwrap_or(id)
}

/// What an unrecorded test is assumed to take: the median of the
/// selection's recorded durations (a new test looks like its neighbours
/// more than like any constant), else 1 s, as the plan assumes.
fn estimate(recorded: &mut [f64]) -> f64 {
    if recorded.is_empty() {
        return 1.0;
    }
    recorded.sort_by(f64::total_cmp);
    let mid = recorded.len() / 2;
    if recorded.len().is_multiple_of(2) {
        (recorded[mid - 1] + recorded[mid]) / 2.0
    } else {
        recorded[mid]
    }
}

/// One file's selected tests (indices, by node id) and its time
/// per rate-limited category.
struct FileTests<'a> {
    file: &'a str,
    tests: Vec<usize>,
    rated: Vec<(usize, f64)>,
}

/// A file, or a piece of one, placed whole.
struct Unit<'a> {
    file: &'a str,
    piece: usize,
    tests: Vec<usize>,
    weight: f64,
}

/// Cuts `tests` (the selection, in pytest's order) into `count` parts
/// balanced by `durations` (node id → seconds). `count` must be at least 1.
pub fn split(tests: &[ShardTest<'_>], durations: &HashMap<String, f64>, count: usize) -> Split {
    let count = count.max(1);
    let recorded_of = |id: &str| {
        durations
            .get(id)
            .copied()
            .filter(|d| d.is_finite() && *d >= 0.0)
    };
    let mut recorded: Vec<f64> = tests.iter().filter_map(|t| recorded_of(t.id)).collect();
    let unrecorded = tests.len() - recorded.len();
    let estimate = estimate(&mut recorded);
    let weights: Vec<f64> = tests
        .iter()
        .map(|t| recorded_of(t.id).unwrap_or(estimate))
        .collect();

    // Files by path, each with its tests by node id and its time per
    // rate-limited category. Not pytest's order: a plugin that shuffles it
    // per machine (pytest-randomly) must not move a test to another part,
    // so nothing below depends on the order the tests were given in.
    let file_names: Vec<&str> = tests.iter().map(|t| file_of(t.id)).collect();
    let mut by_key: Vec<usize> = (0..tests.len()).collect();
    // Node ids are unique: an unstable sort gives the one order.
    by_key.sort_unstable_by(|&a, &b| {
        file_names[a]
            .cmp(file_names[b])
            .then(tests[a].id.cmp(tests[b].id))
    });
    let mut file_index: HashMap<&str, usize> = HashMap::new();
    let mut files: Vec<FileTests<'_>> = Vec::new();
    for i in by_key {
        let test = &tests[i];
        let file = file_names[i];
        let at = *file_index.entry(file).or_insert_with(|| {
            files.push(FileTests {
                file,
                tests: Vec::new(),
                rated: Vec::new(),
            });
            files.len() - 1
        });
        let entry = &mut files[at];
        entry.tests.push(i);
        if let Some(g) = test.rate_group {
            match entry.rated.iter_mut().find(|(group, _)| *group == g) {
                Some((_, w)) => *w += weights[i],
                None => entry.rated.push((g, weights[i])),
            }
        }
    }

    // A file's group: the rate-limited category holding most of its time
    // (the lower number on a tie), else none.
    let group_of = |rated: &[(usize, f64)]| {
        rated
            .iter()
            .copied()
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(g, _)| g)
    };
    let mut groups: Vec<Option<usize>> = files.iter().map(|f| group_of(&f.rated)).collect();
    groups.sort();
    groups.dedup();
    // Rate-limited groups first (in their numbers' order), the rest last.
    let rest_first = usize::from(groups.first() == Some(&None));
    groups.rotate_left(rest_first);

    let total: f64 = files
        .iter()
        .flat_map(|f| f.tests.iter())
        .map(|&i| weights[i])
        .sum();
    let mut part_of = vec![0usize; tests.len()];
    let mut load = vec![0.0f64; count];
    let mut held = vec![0usize; count];
    let mut largest_unit = 0.0f64;
    for group in groups {
        let members: Vec<&FileTests<'_>> = files
            .iter()
            .filter(|f| group_of(&f.rated) == group)
            .collect();
        let group_total: f64 = members
            .iter()
            .flat_map(|f| f.tests.iter())
            .map(|&i| weights[i])
            .sum();
        let share = if group.is_some() { group_total } else { total } / count as f64;
        let mut units: Vec<Unit<'_>> = Vec::new();
        for &FileTests {
            file,
            tests: ref members,
            ..
        } in members
        {
            let weight: f64 = members.iter().map(|&i| weights[i]).sum();
            if weight <= share || members.len() == 1 {
                units.push(Unit {
                    file,
                    piece: 0,
                    tests: members.clone(),
                    weight,
                });
                continue;
            }
            // Cut in node-id order (a class's tests, a parametrized
            // test's cases stay neighbours) into pieces of at most the
            // share; a test heavier than the share is a piece alone.
            let mut piece = Unit {
                file,
                piece: 0,
                tests: Vec::new(),
                weight: 0.0,
            };
            for &i in members {
                if !piece.tests.is_empty() && piece.weight + weights[i] > share {
                    let next = piece.piece + 1;
                    units.push(std::mem::replace(
                        &mut piece,
                        Unit {
                            file,
                            piece: next,
                            tests: Vec::new(),
                            weight: 0.0,
                        },
                    ));
                }
                piece.tests.push(i);
                piece.weight += weights[i];
            }
            units.push(piece);
        }
        units.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then_with(|| a.file.cmp(b.file))
                .then(a.piece.cmp(&b.piece))
        });
        let mut group_load = vec![0.0f64; count];
        for unit in units {
            largest_unit = largest_unit.max(unit.weight);
            let target = (0..count)
                .min_by(|&a, &b| {
                    let by_group = if group.is_some() {
                        group_load[a].total_cmp(&group_load[b])
                    } else {
                        std::cmp::Ordering::Equal
                    };
                    by_group
                        .then(load[a].total_cmp(&load[b]))
                        .then(held[a].cmp(&held[b]))
                        .then(a.cmp(&b))
                })
                .expect("at least one part");
            group_load[target] += unit.weight;
            load[target] += unit.weight;
            held[target] += unit.tests.len();
            for i in unit.tests {
                part_of[i] = target;
            }
        }
    }

    let mut parts = vec![PartStats::default(); count];
    let mut seen_files: Vec<std::collections::BTreeSet<&str>> = vec![Default::default(); count];
    for (i, test) in tests.iter().enumerate() {
        let p = part_of[i];
        parts[p].tests += 1;
        parts[p].seconds += weights[i];
        seen_files[p].insert(file_of(test.id));
    }
    for (stats, files) in parts.iter_mut().zip(seen_files) {
        stats.files = files.len();
    }
    Split {
        part_of,
        parts,
        unrecorded,
        estimate,
        largest_unit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn plain(ids: &[String]) -> Vec<ShardTest<'_>> {
        ids.iter()
            .map(|id| ShardTest {
                id,
                rate_group: None,
            })
            .collect()
    }

    #[test]
    fn whole_files_are_balanced_by_recorded_time() {
        let ids: Vec<String> = ["a.py::t1", "a.py::t2", "b.py::t1", "c.py::t1", "d.py::t1"]
            .map(String::from)
            .to_vec();
        let durations: HashMap<String, f64> = [
            ("a.py::t1", 2.0),
            ("a.py::t2", 2.0),
            ("b.py::t1", 3.0),
            ("c.py::t1", 1.0),
            ("d.py::t1", 2.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let split = split(&plain(&ids), &durations, 2);
        // a.py (4 s) and b.py + c.py (4 s)... d.py joins the lighter.
        assert_eq!(split.part_of[0], split.part_of[1], "a.py stays whole");
        let seconds: Vec<f64> = split.parts.iter().map(|p| p.seconds).collect();
        assert_eq!(seconds, vec![5.0, 5.0]);
        assert_eq!(split.unrecorded, 0);
    }

    #[test]
    fn a_file_heavier_than_a_part_is_cut_at_test_boundaries() {
        let ids: Vec<String> = (0..6).map(|i| format!("big.py::t{i}")).collect();
        let split = split(&plain(&ids), &HashMap::new(), 3);
        assert_eq!(split.estimate, 1.0, "nothing recorded: 1 s each");
        assert_eq!(split.unrecorded, 6);
        for p in &split.parts {
            assert_eq!(p.tests, 2);
        }
        // Each part's tests are neighbours in pytest's order.
        for part in 1..=3 {
            let held: Vec<usize> = split
                .tests_of(Part {
                    index: part,
                    count: 3,
                })
                .collect();
            assert_eq!(held.len(), 2);
            assert_eq!(held[1], held[0] + 1);
        }
    }

    #[test]
    fn unrecorded_tests_weigh_the_median() {
        let ids: Vec<String> = ["a.py::x", "b.py::x", "c.py::x", "d.py::new"]
            .map(String::from)
            .to_vec();
        let durations: HashMap<String, f64> =
            [("a.py::x", 1.0), ("b.py::x", 3.0), ("c.py::x", 10.0)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        let split = split(&plain(&ids), &durations, 2);
        assert_eq!(split.estimate, 3.0);
        assert_eq!(split.unrecorded, 1);
    }

    #[test]
    fn one_file_of_rate_limited_tests_is_spread_over_every_part() {
        let ids: Vec<String> = (0..6)
            .map(|i| format!("api.py::t{i}"))
            .chain((0..30).map(|i| format!("unit_{i}.py::t")))
            .collect();
        let tests: Vec<ShardTest<'_>> = ids
            .iter()
            .map(|id| ShardTest {
                id,
                rate_group: id.starts_with("api").then_some(2),
            })
            .collect();
        let split = split(&tests, &HashMap::new(), 3);
        let mut per_part = [0; 3];
        for (i, t) in tests.iter().enumerate() {
            if t.rate_group.is_some() {
                per_part[split.part_of[i]] += 1;
            }
        }
        assert_eq!(per_part, [2, 2, 2]);
        for p in &split.parts {
            assert_eq!(p.tests, 12);
        }
    }

    /// Node ids with their rate-limited category, durations, parts.
    type Suite = (Vec<(String, Option<usize>)>, HashMap<String, f64>, usize);

    fn suite() -> impl Strategy<Value = Suite> {
        // Up to 12 files of up to 8 tests, some recorded, some rate-limited.
        let file = (1usize..8, proptest::option::of(0usize..2), 0u32..3);
        (proptest::collection::vec(file, 1..12), 1usize..6).prop_flat_map(|(files, parts)| {
            let mut ids = Vec::new();
            for (f, (n, group, _)) in files.iter().enumerate() {
                for t in 0..*n {
                    ids.push((format!("tests/f{f}.py::t{t}"), *group));
                }
            }
            let n = ids.len();
            (
                Just(ids),
                proptest::collection::vec(proptest::option::of(0.0f64..20.0), n),
                Just(parts),
            )
                .prop_map(|(ids, times, parts)| {
                    let durations = ids
                        .iter()
                        .zip(times)
                        .filter_map(|((id, _), t)| Some((id.clone(), t?)))
                        .collect();
                    (ids, durations, parts)
                })
        })
    }

    proptest! {
        #[test]
        fn every_test_lands_in_exactly_one_part_in_pytests_order((ids, durations, parts) in suite()) {
            let tests: Vec<ShardTest<'_>> = ids
                .iter()
                .map(|(id, g)| ShardTest { id, rate_group: *g })
                .collect();
            let split = split(&tests, &durations, parts);
            prop_assert_eq!(split.part_of.len(), tests.len());
            let mut union: Vec<usize> = Vec::new();
            for k in 1..=parts {
                let held: Vec<usize> = split.tests_of(Part { index: k, count: parts }).collect();
                prop_assert!(held.windows(2).all(|w| w[0] < w[1]), "pytest's order");
                prop_assert_eq!(held.len(), split.parts[k - 1].tests);
                union.extend(held);
            }
            union.sort();
            prop_assert_eq!(union, (0..tests.len()).collect::<Vec<_>>());
        }

        #[test]
        fn parts_differ_by_at_most_the_heaviest_units((ids, durations, parts) in suite()) {
            let tests: Vec<ShardTest<'_>> = ids
                .iter()
                .map(|(id, g)| ShardTest { id, rate_group: *g })
                .collect();
            let split = split(&tests, &durations, parts);
            let seconds: Vec<f64> = split.parts.iter().map(|p| p.seconds).collect();
            let max = seconds.iter().copied().fold(0.0, f64::max);
            let min = seconds.iter().copied().fold(f64::INFINITY, f64::min);
            // Greedy on each group (two rate-limited ones and the rest)
            // leaves parts at most one heaviest unit apart per group.
            prop_assert!(max - min <= 3.0 * split.largest_unit + 1e-9,
                "{seconds:?}, largest unit {}", split.largest_unit);
            let total: f64 = seconds.iter().sum();
            prop_assert!(max <= total / parts as f64 + 3.0 * split.largest_unit + 1e-9);
        }

        #[test]
        fn a_shuffled_order_puts_each_test_in_the_same_part(
            (ids, durations, parts) in suite(),
            seed in any::<u64>(),
        ) {
            let tests: Vec<ShardTest<'_>> = ids
                .iter()
                .map(|(id, g)| ShardTest { id, rate_group: *g })
                .collect();
            // pytest-randomly's order on another machine: a permutation.
            let mut shuffled = tests.clone();
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let here = split(&tests, &durations, parts);
            let there = split(&shuffled, &durations, parts);
            let part_here: HashMap<&str, usize> =
                tests.iter().zip(&here.part_of).map(|(t, p)| (t.id, *p)).collect();
            for (t, p) in shuffled.iter().zip(&there.part_of) {
                prop_assert_eq!(part_here[t.id], *p, "{} moved", t.id);
            }
        }

        #[test]
        fn the_same_inputs_give_the_same_parts((ids, durations, parts) in suite()) {
            let tests: Vec<ShardTest<'_>> = ids
                .iter()
                .map(|(id, g)| ShardTest { id, rate_group: *g })
                .collect();
            // A map built in another order holds the same durations.
            let mut reversed: Vec<(String, f64)> = durations.clone().into_iter().collect();
            reversed.reverse();
            let rebuilt: HashMap<String, f64> = reversed.into_iter().collect();
            prop_assert_eq!(split(&tests, &durations, parts), split(&tests, &rebuilt, parts));
        }
    }
}
