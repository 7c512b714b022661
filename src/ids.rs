//! Compact lists of custom_ids: one text buffer and one end offset per id, so 100,000 ids
//! cost about 1.4 MB in two allocations instead of a `String` (and a heap block) each.

use std::fmt;

/// Custom_ids in order, stored end to end in one buffer.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IdList {
    text: String,
    ends: Vec<u32>,
}

impl IdList {
    /// An empty list.
    pub(crate) fn new() -> IdList {
        IdList::default()
    }

    /// An empty list with room for `ids` ids of `bytes` bytes in all.
    pub(crate) fn with_capacity(ids: usize, bytes: usize) -> IdList {
        IdList {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(ids),
        }
    }

    /// Appends `id`.
    ///
    /// # Panics
    /// When the ids together pass 4 GiB (manifests that large are refused when read).
    pub(crate) fn push(&mut self, id: &str) {
        self.text.push_str(id);
        let end = u32::try_from(self.text.len()).expect("custom_ids above 4 GiB in all");
        self.ends.push(end);
    }

    /// How many ids.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there is no id.
    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The id at `i`.
    pub(crate) fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        Some(&self.text[start..end])
    }

    /// The ids in order.
    pub(crate) fn iter(&self) -> Iter<'_> {
        Iter {
            list: self,
            front: 0,
            back: self.len(),
        }
    }

    /// Frees the room reserved beyond what the ids use.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

impl fmt::Debug for IdList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<S: AsRef<str>> FromIterator<S> for IdList {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> IdList {
        let mut list = IdList::new();
        list.extend(iter);
        list
    }
}

impl<S: AsRef<str>> Extend<S> for IdList {
    fn extend<I: IntoIterator<Item = S>>(&mut self, iter: I) {
        for id in iter {
            self.push(id.as_ref());
        }
    }
}

impl<'a> IntoIterator for &'a IdList {
    type Item = &'a str;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for IdList {
    type Item = String;
    type IntoIter = IntoIter;
    /// Owned ids, each allocated only when it is taken.
    fn into_iter(self) -> IntoIter {
        IntoIter {
            list: self,
            next: 0,
        }
    }
}

/// Borrowed ids of an [`IdList`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    list: &'a IdList,
    front: usize,
    back: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.front == self.back {
            return None;
        }
        self.front += 1;
        self.list.get(self.front - 1)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        self.list.get(self.back)
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Owned ids of an [`IdList`]; the list's buffer is freed when this is dropped.
#[derive(Debug)]
pub struct IntoIter {
    list: IdList,
    next: usize,
}

impl Iterator for IntoIter {
    type Item = String;
    fn next(&mut self) -> Option<String> {
        let id = self.list.get(self.next)?.to_owned();
        self.next += 1;
        Some(id)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.list.len() - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for IntoIter {}

/// A set of custom_ids for membership tests: an [`IdList`] and its positions in sorted
/// order, about 4 bytes per id beyond the ids themselves.
#[derive(Debug, Default, Clone)]
pub struct IdSet {
    list: IdList,
    sorted: Vec<u32>,
}

impl IdSet {
    /// Whether `id` is in the set.
    pub fn contains(&self, id: &str) -> bool {
        self.sorted
            .binary_search_by(|&i| self.at(i).cmp(id))
            .is_ok()
    }

    /// How many distinct ids.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    fn at(&self, i: u32) -> &str {
        self.list.get(i as usize).unwrap_or_default()
    }
}

impl From<IdList> for IdSet {
    fn from(list: IdList) -> IdSet {
        let n = u32::try_from(list.len()).expect("fewer than 2^32 custom_ids");
        let mut set = IdSet {
            list,
            sorted: (0..n).collect(),
        };
        let IdSet { list, sorted } = &mut set;
        sorted.sort_unstable_by(|&a, &b| {
            list.get(a as usize)
                .unwrap_or_default()
                .cmp(list.get(b as usize).unwrap_or_default())
        });
        sorted.dedup_by(|a, b| list.get(*a as usize) == list.get(*b as usize));
        set
    }
}

impl<S: AsRef<str>> FromIterator<S> for IdSet {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> IdSet {
        IdSet::from(iter.into_iter().collect::<IdList>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_keeps_ids_in_order_with_their_bytes() {
        let ids = ["a", "", "req-000001", "ünï/код", "a"];
        let list: IdList = ids.iter().collect();
        assert_eq!(list.len(), 5);
        assert_eq!(list.iter().collect::<Vec<_>>(), ids);
        assert_eq!(list.iter().rev().collect::<Vec<_>>()[0], "a");
        assert_eq!(list.get(3), Some("ünï/код"));
        assert_eq!(list.get(5), None);
        assert_eq!(list.clone().into_iter().collect::<Vec<String>>(), ids);
        assert_eq!(format!("{list:?}"), format!("{ids:?}"));
    }

    #[test]
    fn set_answers_membership_exactly() {
        let set: IdSet = ["m", "a", "z", "a", "req-1", "req-10"].iter().collect();
        assert_eq!(set.len(), 5);
        for id in ["m", "a", "z", "req-1", "req-10"] {
            assert!(set.contains(id), "{id}");
        }
        for id in ["", "b", "req-", "req-100", "zz", "A"] {
            assert!(!set.contains(id), "{id}");
        }
        assert!(!IdSet::default().contains(""));
    }
}
