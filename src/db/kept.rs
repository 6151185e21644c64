//! Pages an instance keeps under a data version the database moves on in the transaction of
//! every change they show (`org_data_versions` for an organization's member lists,
//! `user_data_versions` for a person's organization list). The version is read on every request
//! with the access check or the session, so a kept page is served only while the database holds
//! what it shows, whichever instance made the change; the pages of an owner's other versions are
//! never served again.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// By default at most this many pages are kept (a member page's 50 members: about 15 KiB as
/// rows read, 40 KiB as rows rendered, and a few times that with long names), and at most
/// `PER_OWNER` of one owner's: someone asking for page after page, or search after search,
/// replaces their own organization's (or their own) pages, not everyone's.
const PAGES: usize = 128;
const PER_OWNER: usize = 16;

/// Pages of `V`, keyed by their owner `O` (an organization, a person, a session), the owner's
/// data version and the page asked for `P`: at most `N` pages, `M` of one owner's, all at the
/// version the owner was last read at.
pub struct Kept<O, P, V, const N: usize = PAGES, const M: usize = PER_OWNER> {
    pages: Mutex<Pages<O, P, V>>,
}

/// Each owner's version and pages, and how many pages there are in all.
struct Pages<O, P, V> {
    owners: HashMap<O, (i64, HashMap<P, V>)>,
    count: usize,
}

impl<O, P, V, const N: usize, const M: usize> Default for Kept<O, P, V, N, M> {
    fn default() -> Self {
        Kept {
            pages: Mutex::new(Pages {
                owners: HashMap::new(),
                count: 0,
            }),
        }
    }
}

impl<O: Hash + Eq + Copy, P: Hash + Eq + Clone, V: Clone, const N: usize, const M: usize>
    Kept<O, P, V, N, M>
{
    /// The page `page` of `owner` kept at `version`, or `read` now and kept. `version` must have
    /// been read from the database in this request, after its permission was decided. Version 0
    /// is no version (the database never gives it): nothing is kept under it.
    pub fn get_or_read<E>(
        &self,
        owner: O,
        version: i64,
        page: P,
        read: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        if version == 0 {
            return read();
        }
        if let Some(kept) = self.get(owner, version, &page) {
            return Ok(kept);
        }
        let value = read()?;
        self.keep(owner, version, page, value.clone());
        Ok(value)
    }

    /// The version `owner`'s pages are kept at, if any are.
    pub fn version_of(&self, owner: O) -> Option<i64> {
        self.pages().owners.get(&owner).map(|(version, _)| *version)
    }

    /// The page `page` of `owner` kept at `version`, if it is. `version` must have been read
    /// from the database in this request.
    pub fn get(&self, owner: O, version: i64, page: &P) -> Option<V> {
        match self.pages().owners.get(&owner) {
            Some((kept, pages)) if *kept == version => pages.get(page).cloned(),
            _ => None,
        }
    }

    /// Keeps `value` as `owner`'s page `page` at `version`, dropping the owner's pages of any
    /// other version, then one of their own pages when they have `M`, else one of another
    /// owner's when `N` are kept.
    pub fn keep(&self, owner: O, version: i64, page: P, value: V) {
        if version == 0 {
            return;
        }
        let mut guard = self.pages();
        let Pages { owners, count } = &mut *guard;
        if let Some((kept, pages)) = owners.get_mut(&owner)
            && *kept != version
        {
            *count -= pages.len();
            pages.clear();
            *kept = version;
        }
        let own = owners.get(&owner).map_or(0, |(_, pages)| pages.len());
        let evict_from = if own >= M {
            Some(owner)
        } else if *count >= N {
            owners
                .iter()
                .find(|(o, (_, pages))| **o != owner && !pages.is_empty())
                .map(|(o, _)| *o)
        } else {
            None
        };
        if let Some(from) = evict_from
            && let Some((_, pages)) = owners.get_mut(&from)
            && let Some(evicted) = pages.keys().next().cloned()
        {
            pages.remove(&evicted);
            *count -= 1;
            if pages.is_empty() && from != owner {
                owners.remove(&from);
            }
        }
        let (_, pages) = owners
            .entry(owner)
            .or_insert_with(|| (version, HashMap::new()));
        if pages.insert(page, value).is_none() {
            *count += 1;
        }
    }

    fn pages(&self) -> MutexGuard<'_, Pages<O, P, V>> {
        self.pages.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_read_once_per_version_and_other_versions_go() {
        let kept: Kept<i64, i64, i64> = Kept::default();
        let reads = std::cell::Cell::new(0);
        let get = |owner, version, page| {
            kept.get_or_read(owner, version, page, || {
                reads.set(reads.get() + 1);
                Ok::<_, std::convert::Infallible>(owner * 100 + version * 10 + page)
            })
            .unwrap()
        };
        assert_eq!(get(1, 1, 1), 111);
        assert_eq!(get(1, 1, 1), 111);
        assert_eq!(get(2, 1, 1), 211);
        assert_eq!(get(1, 2, 1), 121);
        assert_eq!(reads.get(), 3);
        assert_eq!(get(2, 1, 1), 211, "another owner's page stays");
        assert_eq!(reads.get(), 3);
        assert_eq!(get(1, 1, 1), 111, "the first version's page went");
        assert_eq!(reads.get(), 4);
        assert_eq!(get(1, 0, 1), 101);
        assert_eq!(get(1, 0, 1), 101);
        assert_eq!(reads.get(), 6, "nothing is kept under version 0");
        for page in 0..100 {
            get(3, 1, page);
        }
        assert_eq!(kept.pages().owners[&3].1.len(), PER_OWNER);
        assert_eq!(
            kept.get(2, 1, &1),
            Some(211),
            "one owner's pages do not push out another's"
        );
        for owner in 10..40 {
            for page in 0..PER_OWNER as i64 {
                get(owner, 1, page);
            }
        }
        assert_eq!(kept.pages().count, PAGES);
        let counted: usize = kept.pages().owners.values().map(|(_, p)| p.len()).sum();
        assert_eq!(counted, PAGES);
        assert_eq!(kept.version_of(39), Some(1));
        assert_eq!(kept.version_of(1000), None);
    }
}
