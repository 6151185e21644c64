//! Times on pages: relative ("3 minutes ago", "in 6 days") inside a `<time>` element that
//! carries the exact UTC time (in `datetime`, and on hover in `title`), the same on every page.
//! Templates call the `when` macro of `partials/forms.html`.

use chrono::{DateTime, Utc};

/// The three ways a moment is shown.
pub trait Shown {
    /// RFC 3339, for `<time datetime>`.
    fn iso(&self) -> String;
    /// The exact time in UTC, for people.
    fn exact(&self) -> String;
    /// Relative to now.
    fn ago(&self) -> String;
}

impl Shown for DateTime<Utc> {
    fn iso(&self) -> String {
        self.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    fn exact(&self) -> String {
        self.format("%Y-%m-%d %H:%M UTC").to_string()
    }

    fn ago(&self) -> String {
        relative(*self, Utc::now())
    }
}

/// `at` relative to `now`, in the largest whole unit.
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds();
    let (amount, future) = (seconds.unsigned_abs(), seconds < 0);
    if amount < 60 {
        return "just now".into();
    }
    let (n, unit) = [
        (86_400 * 365, "year"),
        (86_400 * 30, "month"),
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
    ]
    .into_iter()
    .find(|(size, _)| amount >= *size)
    .map_or((0, "minute"), |(size, unit)| (amount / size, unit));
    let plural = if n == 1 { "" } else { "s" };
    if future {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_shown_in_their_largest_unit() {
        let now = Utc::now();
        let cases = [
            (-5, "just now"),
            (-60, "1 minute ago"),
            (-3 * 60, "3 minutes ago"),
            (-2 * 3600, "2 hours ago"),
            (-86_400, "1 day ago"),
            (6 * 86_400 + 60, "in 6 days"),
            (-400 * 86_400, "1 year ago"),
        ];
        for (offset, shown) in cases {
            let at = now + chrono::Duration::seconds(offset);
            assert_eq!(relative(at, now), shown, "{offset}");
        }
    }
}
