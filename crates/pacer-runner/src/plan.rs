//! How a category's tests are cut into lanes and chunks, before anything runs.
//!
//! pytest orders a module's tests on purpose (definition order, regrouped so
//! that module- and class-scoped fixtures, parametrized or not, are set up
//! once per value), and suites rely on that order. So durations never reorder
//! tests inside a chunk: they only order whole chunks.
//!
//! - A **lane** is what must be handed out in order: the tests of one file in
//!   one category (or, with `--dist loadgroup`, of one `xdist_group`). Its
//!   chunks go out first to last, so every worker sees a file's tests in
//!   pytest's order.
//! - A **chunk** is a contiguous run of a lane that one worker runs whole.
//!   A file is one chunk unless it alone outweighs one worker's share of
//!   its category; then it is cut so that the workers can share it, where
//!   the fixture scope changes (a class, a module parameter), so that a
//!   class is not split without need.
//!
//! Pure functions over indices: unit-tested below, used by the scheduler.

use std::collections::HashMap;

use crate::index::{CategoryIndex, IndexVec, TestIndex, UnitIndex};

/// The tests that failed last time, and what to do with them (pytest's
/// `--lf` / `--ff`, applied by pacer over the whole suite: a worker only
/// sees its share of the files, so it cannot).
#[derive(Debug, Clone)]
pub struct LastFailed {
    pub ids: std::collections::HashSet<String>,
    /// `--lf`: run only those (when any of them is collected); else `--ff`:
    /// run them first.
    pub only: bool,
    /// `--lfnf none`: with no known failure collected, run nothing.
    pub none_if_no_failures: bool,
}

/// How tests may be shared between workers: pytest-xdist's `--dist` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dist {
    /// Contiguous chunks of files, cut where the fixture scope changes.
    #[default]
    Load,
    /// A file is never split between workers.
    LoadFile,
    /// A module or class is never split between workers (xdist's scope: the
    /// node id without its last part).
    LoadScope,
    /// Tests marked `xdist_group(name)` all run on one worker; the rest as `Load`.
    LoadGroup,
}

/// One test as the planner sees it, in collection order.
#[derive(Debug, Clone)]
pub struct PlanTest {
    pub unit: UnitIndex,
    pub category: CategoryIndex,
    pub weight: f64,
    /// The node id without its last `::` part (module or class).
    pub xdist_scope: String,
    /// What wider-scoped fixtures are set up for (see the worker's `_item_entry`).
    pub scope: String,
    pub group: Option<String>,
}

/// Tests handed out in order, chunk by chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    pub category: CategoryIndex,
    /// Each chunk: test indices in collection order.
    pub chunks: Vec<Vec<TestIndex>>,
    /// A run of module-level tests was cut between two of its tests (not
    /// only at a class or parameter boundary): said to the user in one line,
    /// since module state is then not shared by all of them.
    pub module_level_cut: bool,
}

/// A file bigger than one worker's share of its category is cut into
/// chunks of this fraction of a share: small enough for the workers to
/// finish together, big enough that few fixtures are set up twice.
const CHUNK_OF_SHARE: f64 = 0.5;

/// A run of module-level tests is never cut into parts shorter than this
/// (seconds of recorded time, or tests with no record, each counting 1):
/// so a module whose tests take under twice this is never split, whatever
/// the noise in what a loaded machine recorded. Splitting it would save
/// less than a worker's start, and put its module state at risk.
pub const MIN_MODULE_PIECE: f64 = 1.0;

/// Cuts `tests` (in collection order) into lanes. `parallel[c]` is how many
/// workers may run category `c` at once: with one, nothing is cut.
pub fn lanes(
    tests: &IndexVec<TestIndex, PlanTest>,
    dist: Dist,
    parallel: &IndexVec<CategoryIndex, usize>,
) -> Vec<Lane> {
    #[derive(PartialEq, Eq, Hash, Clone, Copy)]
    enum Key<'a> {
        Unit(UnitIndex),
        Group(&'a str),
    }
    let mut order: Vec<(CategoryIndex, Key)> = Vec::new();
    let mut members: HashMap<(CategoryIndex, Key), Vec<TestIndex>> = HashMap::new();
    let mut total: IndexVec<CategoryIndex, f64> = IndexVec::from_elem(0.0, parallel.len());
    for (index, test) in tests.iter_enumerated() {
        let key = match (&test.group, dist) {
            (Some(group), Dist::LoadGroup) => Key::Group(group),
            _ => Key::Unit(test.unit),
        };
        total[test.category] += test.weight;
        let slot = (test.category, key);
        if !members.contains_key(&slot) {
            order.push(slot);
        }
        members.entry(slot).or_default().push(index);
    }
    order
        .into_iter()
        .map(|(category, key)| {
            let members = members.remove(&(category, key)).unwrap_or_default();
            let slots = parallel.get(category).copied().unwrap_or(1);
            let share = total[category] / slots as f64;
            let weight: f64 = members.iter().map(|t| tests[*t].weight).sum();
            // Files are the natural chunks (pytest-xdist's loadfile): one
            // is cut only when it alone outweighs a worker's share.
            let whole = matches!(key, Key::Group(_))
                || dist == Dist::LoadFile
                || slots <= 1
                || weight <= share;
            let (chunks, module_level_cut) = if whole {
                (vec![members], false)
            } else {
                cut(tests, &members, share, dist == Dist::LoadScope)
            };
            Lane {
                category,
                chunks,
                module_level_cut,
            }
        })
        .collect()
}

/// Cuts every chunk where a test of another lane comes between two of its
/// tests in collection order (a file whose tests fall in two categories):
/// handed out in order, chunk by chunk, no test then runs before one that
/// comes earlier.
pub fn cut_at_gaps(lanes: &mut [Lane]) {
    for lane in lanes {
        let mut chunks = Vec::with_capacity(lane.chunks.len());
        for chunk in lane.chunks.drain(..) {
            let mut current: Vec<TestIndex> = Vec::new();
            for t in chunk {
                if current
                    .last()
                    .is_some_and(|last| t.index() != last.index() + 1)
                {
                    chunks.push(std::mem::take(&mut current));
                }
                current.push(t);
            }
            if !current.is_empty() {
                chunks.push(current);
            }
        }
        lane.chunks = chunks;
    }
}

/// Cuts one lane into chunks at scope boundaries, merging small scopes up
/// to a chunk's size. A module-level scope is cut inside only when it alone
/// outweighs one worker's `share` of the category (it must be, or one
/// worker would carry it while the others idle), and then into parts of at
/// least [`MIN_MODULE_PIECE`]; a class never is, nor any scope when
/// `strict` (xdist's loadscope). Also says whether a module-level scope
/// was cut inside.
fn cut(
    tests: &IndexVec<TestIndex, PlanTest>,
    members: &[TestIndex],
    share: f64,
    strict: bool,
) -> (Vec<Vec<TestIndex>>, bool) {
    let target = share * CHUNK_OF_SHARE;
    let scope_of = |t: TestIndex| {
        if strict {
            tests[t].xdist_scope.as_str()
        } else {
            tests[t].scope.as_str()
        }
    };
    // Maximal runs of one scope, in order.
    let mut runs: Vec<Vec<TestIndex>> = Vec::new();
    for &t in members {
        match runs.last_mut() {
            Some(run) if scope_of(run[0]) == scope_of(t) => run.push(t),
            _ => runs.push(vec![t]),
        }
    }
    let weight = |ts: &[TestIndex]| ts.iter().map(|t| tests[*t].weight).sum::<f64>();
    let mut chunks = Vec::new();
    let mut current: Vec<TestIndex> = Vec::new();
    let mut current_weight = 0.0;
    let mut module_level_cut = false;
    for run in runs {
        let w = weight(&run);
        if !current.is_empty() && current_weight + w > target {
            chunks.push(std::mem::take(&mut current));
            current_weight = 0.0;
        }
        // A class is never cut: its tests share the class's fixtures and
        // state as pytest runs them (xdist's `load` splits them and suites
        // fail). Module-level tests too heavy for one worker are cut.
        let in_class = scope_of(run[0])
            .split('[')
            .next()
            .is_some_and(|s| s.contains("::"));
        if !strict && w > share && w >= 2.0 * MIN_MODULE_PIECE && !in_class {
            // Too big for one worker: cut inside the scope, in order, never
            // leaving a part under the minimum at either end.
            let piece_target = target.max(MIN_MODULE_PIECE);
            let mut piece = Vec::new();
            let mut piece_weight = 0.0;
            let mut left = w;
            for t in run {
                let tw = tests[t].weight;
                if !piece.is_empty()
                    && piece_weight + tw > piece_target
                    && piece_weight >= MIN_MODULE_PIECE
                    && left >= MIN_MODULE_PIECE
                {
                    chunks.push(std::mem::take(&mut piece));
                    piece_weight = 0.0;
                    module_level_cut = true;
                }
                piece.push(t);
                piece_weight += tw;
                left -= tw;
            }
            current = piece;
            current_weight = piece_weight;
        } else {
            current.extend(run);
            current_weight += w;
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    (chunks, module_level_cut)
}

/// The files to collect to take over `units` (indices in pytest's
/// collection order, `folders[u]` the folder of file `u`): each with the
/// files before it in the same folder that `collected` says are not loaded
/// yet, in collection order. pytest imports every test module before it runs
/// any test; a module that leans on what an earlier neighbour imported (a
/// deprecated module imported once, a registry filled at import) then still
/// finds it on a worker that takes the file over.
pub fn with_earlier_neighbours(
    folders: &IndexVec<UnitIndex, &str>,
    units: &[UnitIndex],
    collected: impl Fn(UnitIndex) -> bool,
) -> Vec<UnitIndex> {
    let mut wanted: Vec<UnitIndex> = Vec::new();
    for &unit in units {
        let mut u = unit.index();
        while u > 0
            && folders.get(UnitIndex::new(u - 1)) == folders.get(unit)
            && !collected(UnitIndex::new(u - 1))
        {
            u -= 1;
        }
        wanted.extend((u..=unit.index()).map(UnitIndex::new));
    }
    wanted.sort_unstable();
    wanted.dedup();
    wanted
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_file_taken_over_brings_its_earlier_neighbours_in_its_folder() {
        let folders: IndexVec<UnitIndex, &str> = vec!["a", "b", "b", "b", "b", "c"].into();
        let units = |us: &[usize]| us.iter().map(|u| UnitIndex::new(*u)).collect::<Vec<_>>();
        let with_earlier_neighbours = |wanted: &[usize], collected: &dyn Fn(usize) -> bool| {
            let got = with_earlier_neighbours(&folders, &units(wanted), |u| collected(u.index()));
            got.iter().map(|u| u.index()).collect::<Vec<_>>()
        };
        // File 3 of folder b: 1 and 2 come too, up to what is loaded (none).
        assert_eq!(with_earlier_neighbours(&[3], &|_| false), vec![1, 2, 3]);
        // Up to the last file already collected.
        assert_eq!(with_earlier_neighbours(&[4], &|u| u == 2), vec![3, 4]);
        // Never across folders; several files at once, in order, once each.
        assert_eq!(with_earlier_neighbours(&[5, 1], &|_| false), vec![1, 5]);
        assert_eq!(with_earlier_neighbours(&[2, 3], &|_| false), vec![1, 2, 3]);
    }
    use super::*;

    /// Tests of one category: `(unit, scope, weight)`.
    fn suite(spec: &[(usize, &str, f64)]) -> IndexVec<TestIndex, PlanTest> {
        spec.iter()
            .map(|(unit, scope, weight)| PlanTest {
                unit: UnitIndex::new(*unit),
                category: CategoryIndex::new(0),
                weight: *weight,
                xdist_scope: scope.split('[').next().unwrap().to_string(),
                scope: scope.to_string(),
                group: None,
            })
            .collect()
    }

    fn flat(lane: &Lane) -> Vec<usize> {
        lane.chunks.iter().flatten().map(|t| t.index()).collect()
    }

    /// A lane's chunks as plain numbers.
    fn raw(chunks: &[Vec<TestIndex>]) -> Vec<Vec<usize>> {
        chunks
            .iter()
            .map(|c| c.iter().map(|t| t.index()).collect())
            .collect()
    }

    /// Chunks of plain numbers as test indices.
    fn typed(chunks: Vec<Vec<usize>>) -> Vec<Vec<TestIndex>> {
        chunks
            .into_iter()
            .map(|c| c.into_iter().map(TestIndex::new).collect())
            .collect()
    }

    /// Cuts `tests` with `parallel[c]` workers for category `c`.
    fn lanes(tests: &IndexVec<TestIndex, PlanTest>, dist: Dist, parallel: &[usize]) -> Vec<Lane> {
        super::lanes(tests, dist, &parallel.to_vec().into())
    }

    #[test]
    fn every_lane_keeps_collection_order_and_every_test_lands_once() {
        let mut spec = Vec::new();
        for unit in 0..3 {
            for class in 0..4 {
                for _ in 0..5 {
                    spec.push((unit, ["a", "b", "c", "d"][class], 1.0 + class as f64));
                }
            }
        }
        let tests = suite(&spec);
        for dist in [Dist::Load, Dist::LoadFile, Dist::LoadScope, Dist::LoadGroup] {
            let lanes = lanes(&tests, dist, &[4]);
            let mut seen: Vec<usize> = lanes.iter().flat_map(flat).collect();
            for lane in &lanes {
                let order = flat(lane);
                assert!(order.windows(2).all(|w| w[0] < w[1]), "{dist:?}: {order:?}");
            }
            seen.sort();
            assert_eq!(seen, (0..tests.len()).collect::<Vec<_>>(), "{dist:?}");
        }
    }

    #[test]
    fn chunks_are_cut_where_another_lanes_test_comes_between() {
        let mut lanes = vec![
            Lane {
                category: CategoryIndex::new(0),
                chunks: typed(vec![vec![0, 1, 3, 4], vec![6]]),
                module_level_cut: false,
            },
            Lane {
                category: CategoryIndex::new(1),
                chunks: typed(vec![vec![2, 5]]),
                module_level_cut: false,
            },
        ];
        cut_at_gaps(&mut lanes);
        assert_eq!(raw(&lanes[0].chunks), vec![vec![0, 1], vec![3, 4], vec![6]]);
        assert_eq!(raw(&lanes[1].chunks), vec![vec![2], vec![5]]);
    }

    #[test]
    fn small_files_are_one_chunk() {
        let tests = suite(&[(0, "m", 1.0), (0, "m", 1.0), (1, "n", 1.0), (1, "n", 1.0)]);
        let lanes = lanes(&tests, Dist::Load, &[1]);
        assert_eq!(lanes.len(), 2);
        assert!(lanes.iter().all(|l| l.chunks.len() == 1));
    }

    #[test]
    fn a_big_file_is_cut_at_class_boundaries_not_inside_classes() {
        // One file of four classes of 4 tests, two workers: chunks of about
        // 16 / 8 = 2 tests would split classes; whole classes do not need to be.
        let mut spec = Vec::new();
        for class in ["A", "B", "C", "D"] {
            for _ in 0..4 {
                spec.push((0, class, 1.0));
            }
        }
        let tests = suite(&spec);
        let lanes = lanes(&tests, Dist::Load, &[2]);
        assert_eq!(lanes.len(), 1);
        let chunks = &lanes[0].chunks;
        assert!(chunks.len() >= 2, "a big file is shared out: {chunks:?}");
        for chunk in chunks {
            let scope = &tests[chunk[0]].scope;
            assert!(
                chunk.iter().all(|t| &tests[*t].scope == scope),
                "{chunks:?}"
            );
            assert_eq!(chunk.len(), 4, "a class stays whole: {chunks:?}");
        }
    }

    #[test]
    fn module_parameter_values_are_boundaries() {
        // pytest runs all tests with m=0, then all with m=1: the cut goes between.
        let spec: Vec<_> = (0..12)
            .map(|i| (0, if i < 6 { "mod[m=0]" } else { "mod[m=1]" }, 1.0))
            .collect();
        let tests = suite(&spec);
        let lanes = lanes(&tests, Dist::Load, &[2]);
        assert_eq!(
            raw(&lanes[0].chunks),
            vec![(0..6).collect::<Vec<_>>(), (6..12).collect()]
        );
    }

    #[test]
    fn a_class_is_never_cut_however_heavy() {
        // One class holding most of the work, two workers: its tests share
        // class fixtures and state, so it stays on one worker.
        let mut spec: Vec<_> = (0..20).map(|_| (0, "t.py::TestBig[p=0]", 1.0)).collect();
        spec.extend((0..4).map(|_| (1, "u.py", 1.0)));
        let tests = suite(&spec);
        let lanes = lanes(&tests, Dist::Load, &[2]);
        assert_eq!(raw(&lanes[0].chunks), vec![(0..20).collect::<Vec<_>>()]);
    }

    #[test]
    fn a_huge_scope_is_cut_inside_when_it_must_be() {
        let spec: Vec<_> = (0..40).map(|_| (0, "m", 1.0)).collect();
        let tests = suite(&spec);
        let lanes = lanes(&tests, Dist::Load, &[2]);
        assert!(lanes[0].chunks.len() > 1, "{:?}", lanes[0].chunks);
    }

    #[test]
    fn module_level_tests_are_never_cut_into_parts_under_the_minimum() {
        // Three quick module-level tests (a loaded machine's noisy record)
        // and little else: they outweigh a share but stay together.
        let mut spec: Vec<_> = (0..3).map(|_| (0, "t.py", 0.4)).collect();
        spec.extend((0..3).map(|_| (1, "u.py", 0.01)));
        let tests = suite(&spec);
        let quick = lanes(&tests, Dist::Load, &[3]);
        assert_eq!(raw(&quick[0].chunks), vec![vec![0, 1, 2]]);
        assert!(!quick[0].module_level_cut);
        // Four 1-second tests are cut, each part at least a second, and it
        // is said.
        let spec: Vec<_> = (0..4).map(|_| (0, "t.py", 1.0)).collect();
        let tests = suite(&spec);
        let slow = lanes(&tests, Dist::Load, &[2]);
        assert!(slow[0].chunks.len() > 1, "{:?}", slow[0].chunks);
        assert!(slow[0].module_level_cut);
        for chunk in &slow[0].chunks {
            let w: f64 = chunk.iter().map(|t| tests[*t].weight).sum();
            assert!(w >= MIN_MODULE_PIECE, "{:?}", slow[0].chunks);
        }
        // Many small tests: no part under the minimum at either end.
        let spec: Vec<_> = (0..50).map(|_| (0, "t.py", 0.07)).collect();
        let tests = suite(&spec);
        let many = lanes(&tests, Dist::Load, &[4]);
        assert!(many[0].chunks.len() > 1, "{:?}", many[0].chunks);
        for chunk in &many[0].chunks {
            let w: f64 = chunk.iter().map(|t| tests[*t].weight).sum();
            assert!(w >= MIN_MODULE_PIECE - 1e-9, "{:?}", many[0].chunks);
        }
    }

    #[test]
    fn a_file_cut_only_at_class_boundaries_is_not_a_module_level_cut() {
        let spec: Vec<_> = (0..8)
            .map(|i| (0, if i < 4 { "t.py::A" } else { "t.py::B" }, 1.0))
            .collect();
        let tests = suite(&spec);
        let lanes = lanes(&tests, Dist::Load, &[2]);
        assert_eq!(lanes[0].chunks.len(), 2);
        assert!(!lanes[0].module_level_cut);
    }

    #[test]
    fn loadfile_never_splits_a_file() {
        let spec: Vec<_> = (0..40).map(|i| (i / 20, "m", 1.0)).collect();
        let tests = suite(&spec);
        let lanes = lanes(&tests, Dist::LoadFile, &[8]);
        assert_eq!(lanes.len(), 2);
        assert!(lanes.iter().all(|l| l.chunks.len() == 1));
    }

    #[test]
    fn loadscope_never_splits_a_class_or_module() {
        // One class of 30 tests (huge) and 10 module-level tests.
        let mut spec: Vec<_> = (0..30).map(|_| (0, "f.py::C", 1.0)).collect();
        spec.extend((0..10).map(|_| (0, "f.py", 1.0)));
        let tests = suite(&spec);
        let lanes = lanes(&tests, Dist::LoadScope, &[4]);
        assert_eq!(
            raw(&lanes[0].chunks),
            vec![(0..30).collect::<Vec<_>>(), (30..40).collect()]
        );
        // Under load too: a class stays whole, however much bigger than a
        // chunk (its tests share class fixtures and state).
        let load = self::lanes(&tests, Dist::Load, &[4]);
        assert_eq!(load[0].chunks, lanes[0].chunks);
    }

    #[test]
    fn loadgroup_puts_a_group_in_one_chunk_across_files() {
        let mut tests = suite(&[
            (0, "a", 1.0),
            (0, "a", 1.0),
            (1, "b", 1.0),
            (1, "b", 1.0),
            (2, "c", 1.0),
        ]);
        tests[TestIndex::new(1)].group = Some("db".into());
        tests[TestIndex::new(3)].group = Some("db".into());
        let lanes = lanes(&tests, Dist::LoadGroup, &[4]);
        let group = lanes
            .iter()
            .find(|l| flat(l) == vec![1, 3])
            .expect("a lane with the group");
        assert_eq!(group.chunks.len(), 1);
        // Under plain load the mark means nothing.
        let load = self::lanes(&tests, Dist::Load, &[4]);
        assert!(load
            .iter()
            .all(|l| !(flat(l).contains(&1) && flat(l).contains(&3))));
    }

    #[test]
    fn categories_are_separate_lanes() {
        let mut tests = suite(&[(0, "a", 1.0), (0, "a", 1.0)]);
        tests[TestIndex::new(1)].category = CategoryIndex::new(1);
        let lanes = lanes(&tests, Dist::Load, &[2, 2]);
        assert_eq!(lanes.len(), 2);
        assert_eq!(lanes[1].category, CategoryIndex::new(1));
    }
}
