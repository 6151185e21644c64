//! One way to page a list: the page asked for, how many pages there are, and the links to the
//! pages before and after (rendered by `templates/partials/pagination.html`).

/// Rows a list page shows.
pub const PAGE_SIZE: i64 = 50;

/// Where a list is: page `page` of `pages`, with links built from `base`.
#[derive(Debug, Clone)]
pub struct Pagination {
    pub page: i64,
    pub pages: i64,
    /// The list's address with its filters, ending where `page=N` is appended.
    base: String,
}

impl Pagination {
    /// The page asked for in a query string, kept within 1..=1,000,000.
    pub fn page_asked(page: Option<i64>) -> i64 {
        page.unwrap_or(1).clamp(1, 1_000_000)
    }

    /// The first row of `page`.
    pub fn offset(page: i64) -> i64 {
        (page - 1) * PAGE_SIZE
    }

    /// Page `page` of a list of `total` rows at `path`, whose filters are `query` (already
    /// encoded, without `page`).
    pub fn new(page: i64, total: i64, path: &str, query: &str) -> Pagination {
        let base = if query.is_empty() {
            format!("{path}?")
        } else {
            format!("{path}?{query}&")
        };
        Pagination {
            page,
            pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
            base,
        }
    }

    /// The address of page `page`.
    pub fn href(&self, page: i64) -> String {
        format!("{}page={page}", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_up_and_links_keep_the_filters() {
        let p = Pagination::new(2, 101, "/orgs/acme/access/users", "q=ada");
        assert_eq!(p.pages, 3);
        assert_eq!(p.href(3), "/orgs/acme/access/users?q=ada&page=3");
        assert_eq!(Pagination::new(1, 0, "/orgs", "").pages, 1);
        assert_eq!(Pagination::new(1, 0, "/orgs", "").href(1), "/orgs?page=1");
        assert_eq!(Pagination::offset(3), 100);
        assert_eq!(Pagination::page_asked(Some(-4)), 1);
    }
}
