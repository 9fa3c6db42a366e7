//! The controller's per-check states by check id: the states in one vector, an index of
//! positions beside it. A hash map holding the 360-byte states inline spreads 100,000 of them
//! over 131,072 slots and every page of that table is touched; here the states are packed
//! and the index costs 16 bytes a slot (BENCHMARKS.md has the bytes per check).

use std::collections::HashMap;

/// A map from check id to `T`, packed. Iteration order is unspecified.
#[derive(Debug)]
pub struct Table<T> {
    ids: Vec<i64>,
    items: Vec<T>,
    index: HashMap<i64, usize>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table { ids: Vec::new(), items: Vec::new(), index: HashMap::new() }
    }
}

impl<T> Table<T> {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn get(&self, id: &i64) -> Option<&T> {
        self.index.get(id).map(|&i| &self.items[i])
    }

    pub fn get_mut(&mut self, id: &i64) -> Option<&mut T> {
        self.index.get(id).map(|&i| &mut self.items[i])
    }

    /// Inserts or replaces; the replaced value, if any.
    pub fn insert(&mut self, id: i64, item: T) -> Option<T> {
        if let Some(&i) = self.index.get(&id) {
            return Some(std::mem::replace(&mut self.items[i], item));
        }
        self.index.insert(id, self.items.len());
        self.ids.push(id);
        self.items.push(item);
        None
    }

    /// Removes by moving the last entry into the hole.
    pub fn remove(&mut self, id: &i64) -> Option<T> {
        let i = self.index.remove(id)?;
        self.ids.swap_remove(i);
        let item = self.items.swap_remove(i);
        if let Some(&moved) = self.ids.get(i) {
            self.index.insert(moved, i);
        }
        // Give memory back after mass deletes, not on every removal.
        if self.items.capacity() > 1024 && self.items.len() < self.items.capacity() / 4 {
            self.items.shrink_to_fit();
            self.ids.shrink_to_fit();
            self.index.shrink_to_fit();
        }
        Some(item)
    }

    pub fn iter(&self) -> std::iter::Zip<std::slice::Iter<'_, i64>, std::slice::Iter<'_, T>> {
        self.ids.iter().zip(self.items.iter())
    }
}

impl<'a, T> IntoIterator for &'a Table<T> {
    type Item = (&'a i64, &'a T);
    type IntoIter = std::iter::Zip<std::slice::Iter<'a, i64>, std::slice::Iter<'a, T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> FromIterator<(i64, T)> for Table<T> {
    fn from_iter<I: IntoIterator<Item = (i64, T)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut t = Table::default();
        let (n, _) = iter.size_hint();
        t.ids.reserve_exact(n);
        t.items.reserve_exact(n);
        t.index.reserve(n);
        for (id, item) in iter {
            t.insert(id, item);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn behaves_as_a_map_through_inserts_replaces_and_removes() {
        let mut t: Table<String> = (1..=5).map(|i| (i, format!("v{i}"))).collect();
        assert_eq!(t.len(), 5);
        assert_eq!(t.insert(3, "three".into()), Some("v3".into()));
        assert_eq!(t.remove(&1), Some("v1".into()), "the last entry moves into the hole");
        assert_eq!(t.get(&5).map(String::as_str), Some("v5"));
        assert_eq!(t.get(&3).map(String::as_str), Some("three"));
        assert_eq!(t.remove(&1), None);
        t.get_mut(&2).unwrap().push('!');
        let mut all: Vec<(i64, String)> = t.iter().map(|(k, v)| (*k, v.clone())).collect();
        all.sort();
        assert_eq!(all, vec![(2, "v2!".into()), (3, "three".into()), (4, "v4".into()), (5, "v5".into())]);
        for id in [2, 3, 4, 5] {
            assert!(t.remove(&id).is_some());
        }
        assert!(t.is_empty());
    }

    #[test]
    fn mass_deletes_give_memory_back() {
        let mut t: Table<[u8; 64]> = (0..10_000).map(|i| (i, [0; 64])).collect();
        for i in 0..9_900 {
            t.remove(&i);
        }
        assert_eq!(t.len(), 100);
        assert!(t.items.capacity() < 2_500, "{}", t.items.capacity());
        assert!((9_900..10_000).all(|i| t.get(&i).is_some()));
    }
}
