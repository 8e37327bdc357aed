//! Typed indices: a worker, a test, a category, a unit (file) and a lane are
//! each numbered from 0, and each number has its own type, so that the
//! compiler refuses a worker's index where a test's is wanted. An
//! [`IndexVec`] is a `Vec` indexed by one of them only.
//!
//! Hand-written in a few lines (the pattern of the `typed-index-collections`
//! crate): `new` and `index` are the only ways between a number and an index.

use std::fmt;
use std::marker::PhantomData;

/// An index into an [`IndexVec`]: a `usize` of one meaning.
pub trait Idx: Copy + Eq + Ord + std::hash::Hash + fmt::Debug {
    fn new(index: usize) -> Self;
    fn index(self) -> usize;
}

macro_rules! index_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(usize);

        impl $name {
            pub const fn new(index: usize) -> Self {
                $name(index)
            }

            pub const fn index(self) -> usize {
                self.0
            }
        }

        impl Idx for $name {
            fn new(index: usize) -> Self {
                $name(index)
            }

            fn index(self) -> usize {
                self.0
            }
        }

        // The bare number, as the `usize` it replaces printed (`--debug`
        // logs, test failures).
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

index_type!(
    /// A worker process of the pool (the zygote included), in the order the
    /// pool started them: the pool's and the scheduler's one name for it.
    WorkerId
);
index_type!(
    /// A test the run holds, in collection order (the plan's order).
    TestIndex
);
index_type!(
    /// A category, in the order of the run's `categories`.
    CategoryIndex
);
index_type!(
    /// A unit of collection: a file, or, when the collection hooks ordered
    /// tests across files, a run of one file's tests in that order.
    UnitIndex
);
index_type!(
    /// One of the scheduler's lanes (see [`crate::plan`]).
    LaneIndex
);

/// A `Vec` indexed by `I` alone.
#[derive(Clone, PartialEq)]
pub struct IndexVec<I, T> {
    items: Vec<T>,
    _index: PhantomData<fn(I)>,
}

impl<I: Idx, T> IndexVec<I, T> {
    pub const fn new() -> Self {
        IndexVec {
            items: Vec::new(),
            _index: PhantomData,
        }
    }

    /// `n` copies of `value`.
    pub fn from_elem(value: T, n: usize) -> Self
    where
        T: Clone,
    {
        vec![value; n].into()
    }

    /// Appends `value`; returns its index.
    pub fn push(&mut self, value: T) -> I {
        self.items.push(value);
        I::new(self.items.len() - 1)
    }

    /// The index the next `push` returns.
    pub fn next_index(&self) -> I {
        I::new(self.items.len())
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn get(&self, index: I) -> Option<&T> {
        self.items.get(index.index())
    }

    pub fn get_mut(&mut self, index: I) -> Option<&mut T> {
        self.items.get_mut(index.index())
    }

    /// Grows to `len` with values made by `fill` (never shrinks).
    pub fn grow_to(&mut self, len: usize, fill: impl FnMut() -> T) {
        if self.items.len() < len {
            self.items.resize_with(len, fill);
        }
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.items.iter_mut()
    }

    /// Every index, in order.
    pub fn indices(&self) -> impl DoubleEndedIterator<Item = I> + Clone {
        (0..self.items.len()).map(I::new)
    }

    /// Every value with its index, in order.
    pub fn iter_enumerated(&self) -> impl DoubleEndedIterator<Item = (I, &T)> + Clone {
        self.items
            .iter()
            .enumerate()
            .map(|(i, value)| (I::new(i), value))
    }
}

impl<I: Idx, T> Default for IndexVec<I, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I, T: fmt::Debug> fmt::Debug for IndexVec<I, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.items.fmt(f)
    }
}

impl<I: Idx, T> From<Vec<T>> for IndexVec<I, T> {
    fn from(items: Vec<T>) -> Self {
        IndexVec {
            items,
            _index: PhantomData,
        }
    }
}

impl<I: Idx, T> FromIterator<T> for IndexVec<I, T> {
    fn from_iter<It: IntoIterator<Item = T>>(iter: It) -> Self {
        Vec::from_iter(iter).into()
    }
}

impl<I: Idx, T> IntoIterator for IndexVec<I, T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a, I: Idx, T> IntoIterator for &'a IndexVec<I, T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<'a, I: Idx, T> IntoIterator for &'a mut IndexVec<I, T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter_mut()
    }
}

impl<I: Idx, T> std::ops::Index<I> for IndexVec<I, T> {
    type Output = T;

    fn index(&self, index: I) -> &T {
        &self.items[index.index()]
    }
}

impl<I: Idx, T> std::ops::IndexMut<I> for IndexVec<I, T> {
    fn index_mut(&mut self, index: I) -> &mut T {
        &mut self.items[index.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_vec_hands_out_the_indices_of_what_it_holds() {
        let mut names: IndexVec<WorkerId, &str> = IndexVec::new();
        let a = names.push("gw0");
        let b = names.push("gw1");
        assert_eq!((a.index(), b.index()), (0, 1));
        assert_eq!(names[b], "gw1");
        assert_eq!(names.next_index(), WorkerId::new(2));
        assert_eq!(names.indices().collect::<Vec<_>>(), vec![a, b]);
        assert_eq!(format!("{a:?} {b}"), "0 1");
    }
}
