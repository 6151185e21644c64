//! Validated values ("parse, don't validate"): once a value of these types exists, it is valid.

pub mod ids;
pub mod states;

/// Path segments under `/orgs/` that are pages, not organizations: no slug may be one of them
/// (a test holds this list to the route table).
pub const RESERVED_SLUGS: &[&str] = &["new"];

use secrecy::{ExposeSecret, SecretString};

/// A lower-cased email address of plausible shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let email = input.trim().to_lowercase();
        if email.is_empty() {
            return Err("Enter your email address.");
        }
        if email.len() > 254 {
            return Err("Email addresses are at most 254 characters.");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("Enter an email address like name@example.com.");
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"@".contains(c));
        if !domain_ok || !local_ok {
            return Err("Enter an email address like name@example.com.");
        }
        Ok(EmailAddress(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Most addresses one invitation form takes.
pub const MAX_INVITES_PER_FORM: usize = 50;

/// Parses one to 50 addresses, one per line or comma-separated, without repeats. On failure,
/// the addresses that did not parse, each with its reason (or a single message about the list).
pub fn parse_address_list(input: &str) -> Result<Vec<EmailAddress>, Vec<String>> {
    let mut good: Vec<EmailAddress> = Vec::new();
    let mut bad = Vec::new();
    for raw in input
        .split([',', '\n', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match EmailAddress::parse(raw) {
            Ok(email) if !good.contains(&email) => good.push(email),
            Ok(_) => {}
            Err(_) => bad.push(format!("{raw} is not an email address")),
        }
    }
    if !bad.is_empty() {
        return Err(bad);
    }
    if good.is_empty() {
        return Err(vec!["Enter at least one email address.".into()]);
    }
    if good.len() > MAX_INVITES_PER_FORM {
        return Err(vec![format!(
            "Invite at most {MAX_INVITES_PER_FORM} addresses at a time; this list has {}.",
            good.len()
        )]);
    }
    Ok(good)
}

/// A person's display name: 1–100 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

/// What makes a trimmed name unfit to be shown to others (in pages, lists and email subjects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameProblem {
    Empty,
    TooLong,
    Control,
    /// Characters that reorder the text around them (right-to-left overrides, isolates, marks):
    /// "Bob\u{202E}gnp.exe" shows as "Bobexe.png".
    Direction,
    /// Nothing but characters that show nothing (zero-width spaces and joiners, soft hyphens).
    Invisible,
}

const DIRECTION_MESSAGE: &str =
    "Names cannot contain characters that change the direction of text or hide part of it.";

/// Characters that change the direction of the text around them.
fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        // Interlinear annotation marks and tag characters hide the text between them.
        || matches!(c, '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

/// Characters that show nothing by themselves. Joiners stay allowed inside a name (Persian and
/// Indic names, emoji sequences need them); a name of nothing else is refused.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}' | '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
                | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}'
                | '\u{2800}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
                | '\u{E0100}'..='\u{E01EF}'
        )
}

/// The rules every name shown to others follows (people and organizations): 1–100 characters,
/// no control or direction characters, at least one visible character.
fn shown_name_problem(name: &str) -> Option<NameProblem> {
    if name.is_empty() {
        Some(NameProblem::Empty)
    } else if name.chars().count() > 100 {
        Some(NameProblem::TooLong)
    } else if name.chars().any(char::is_control) {
        Some(NameProblem::Control)
    } else if name.chars().any(is_direction_control) {
        Some(NameProblem::Direction)
    } else if name.chars().all(is_invisible) {
        Some(NameProblem::Invisible)
    } else {
        None
    }
}

impl PersonName {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let name = input.trim();
        match shown_name_problem(name) {
            Some(NameProblem::Empty) => Err("Enter your name."),
            Some(NameProblem::TooLong) => Err("Names are at most 100 characters."),
            Some(NameProblem::Control) => Err("Names cannot contain control characters."),
            Some(NameProblem::Direction) => Err(DIRECTION_MESSAGE),
            Some(NameProblem::Invisible) => Err("Enter a name with visible characters."),
            None => Ok(PersonName(name.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An organization name: 1–100 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgName(String);

impl OrgName {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let name = input.trim();
        match shown_name_problem(name) {
            Some(NameProblem::Empty) => Err("Enter a name for the organization."),
            Some(NameProblem::TooLong) => Err("Organization names are at most 100 characters."),
            Some(NameProblem::Control) => {
                Err("Organization names cannot contain control characters.")
            }
            Some(NameProblem::Direction) => Err(DIRECTION_MESSAGE),
            Some(NameProblem::Invisible) => {
                Err("Enter an organization name with visible characters.")
            }
            None => Ok(OrgName(name.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL slug derived from the name: lower-case ASCII letters and digits joined by single
    /// hyphens ("org" when nothing is left).
    pub fn slug(&self) -> String {
        let mut slug = String::new();
        for c in self.0.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
            if slug.len() >= 60 {
                break;
            }
        }
        let slug = slug.trim_end_matches('-');
        if slug.is_empty() {
            "org".to_string()
        } else if RESERVED_SLUGS.contains(&slug) {
            format!("{slug}-org")
        } else {
            slug.to_string()
        }
    }
}

/// A new password that passed the length and strength rules.
pub struct NewPassword(SecretString);

impl NewPassword {
    /// 10–128 characters, not weak by zxcvbn's estimate, and not containing the person's name
    /// or email.
    pub fn parse(input: &str, name: &str, email: &str) -> Result<Self, &'static str> {
        let length = input.chars().count();
        if length < 10 {
            return Err("Use at least 10 characters.");
        }
        if length > 128 {
            return Err("Use at most 128 characters.");
        }
        let lower = input.to_lowercase();
        let email = email.trim().to_lowercase();
        let local = email.split('@').next().unwrap_or_default();
        let name_parts = name
            .split_whitespace()
            .map(str::to_lowercase)
            .filter(|p| p.chars().count() >= 3);
        let contains_identity = (!email.is_empty() && lower.contains(&email))
            || (local.chars().count() >= 3 && lower.contains(local))
            || name_parts.into_iter().any(|p| lower.contains(&p));
        if contains_identity {
            return Err("Your password cannot contain your name or email address.");
        }
        let estimate = zxcvbn::zxcvbn(input, &[name, &email]);
        if (estimate.score() as u8) < 3 {
            return Err(
                "This password is too easy to guess. Add more words or characters that are not a common pattern.",
            );
        }
        Ok(NewPassword(SecretString::from(input.to_string())))
    }

    pub fn secret(&self) -> &SecretString {
        &self.0
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_shown_to_others_cannot_reorder_or_hide_text() {
        for bad in [
            "Bob\u{202E}gnp.exe",
            "\u{2067}Acme",
            "Ann\u{200F}",
            "\u{200B}",
            "\u{200B}\u{200C}\u{FEFF}",
            "\u{00AD}\u{2060}",
            "\u{2800}\u{2800}",
            "Ann\u{FFF9}hidden\u{FFFB}",
            "Ann\u{E0041}",
        ] {
            assert!(PersonName::parse(bad).is_err(), "{bad:?}");
            assert!(OrgName::parse(bad).is_err(), "{bad:?}");
        }
        for good in [
            "Ada Lovelace",
            "مهرداد",
            "می\u{200C}خواهم",
            "José 👩\u{200D}💻",
            "李",
        ] {
            assert!(PersonName::parse(good).is_ok(), "{good:?}");
            assert!(OrgName::parse(good).is_ok(), "{good:?}");
        }
        assert_eq!(PersonName::parse("x\u{202E}y"), Err(DIRECTION_MESSAGE));
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            EmailAddress::parse(" Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "a b@example.com",
            "ada@exa mple.com",
            "ada@.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn address_lists_split_on_lines_and_commas_and_name_the_bad_ones() {
        let ok = parse_address_list("a@example.com, b@example.com\nA@example.com\r\n").unwrap();
        assert_eq!(
            ok.iter().map(EmailAddress::as_str).collect::<Vec<_>>(),
            ["a@example.com", "b@example.com"]
        );
        assert_eq!(
            parse_address_list("a@example.com, nope, also bad")
                .unwrap_err()
                .len(),
            2
        );
        assert!(parse_address_list("  ").is_err());
        let many: Vec<String> = (0..51).map(|i| format!("p{i}@example.com")).collect();
        assert!(parse_address_list(&many.join(",")).unwrap_err()[0].contains("at most 50"));
    }

    #[test]
    fn slugs_never_name_a_page() {
        assert_eq!(OrgName::parse("New").unwrap().slug(), "new-org");
        assert_eq!(OrgName::parse("New York").unwrap().slug(), "new-york");
    }

    #[test]
    fn slugs_are_derived_from_names() {
        assert_eq!(OrgName::parse("  Acme, Inc. ").unwrap().slug(), "acme-inc");
        assert_eq!(OrgName::parse("日本").unwrap().slug(), "org");
        assert_eq!(
            OrgName::parse("x".repeat(100).as_str())
                .unwrap()
                .slug()
                .len(),
            60
        );
    }

    #[test]
    fn organization_names_have_bounds() {
        assert!(OrgName::parse("   ").is_err());
        assert!(OrgName::parse(&"a".repeat(101)).is_err());
        assert!(OrgName::parse(&"a".repeat(100)).is_ok());
    }

    #[test]
    fn weak_short_long_and_personal_passwords_are_refused() {
        assert!(NewPassword::parse("short", "Ada", "ada@example.com").is_err());
        assert!(NewPassword::parse("password123", "Ada", "ada@example.com").is_err());
        assert!(NewPassword::parse(&"x".repeat(129), "Ada", "ada@example.com").is_err());
        assert!(
            NewPassword::parse(
                "lovelace-orbit-cactus-91",
                "Ada Lovelace",
                "ada@example.com"
            )
            .is_err()
        );
        assert!(
            NewPassword::parse("correct horse battery staple", "Ada", "ada@example.com").is_ok()
        );
    }
}
