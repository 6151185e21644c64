//! Two-factor codes (DESIGN §14): TOTP as RFC 6238 has it (SHA-1, 6 digits, 30-second steps, one
//! step of drift either way), through `totp-rs`, with the QR code drawn by `qrcode` as SVG; and
//! the ten single-use recovery codes. Which step a code matched is returned, so that the caller
//! can accept each step once (no replay).

use qrcode::QrCode;
use qrcode::render::svg;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// How many recovery codes an account has.
pub const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "Gatehouse";

fn totp(secret: &[u8], account: &str) -> TOTP {
    TOTP::new_unchecked(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECONDS,
        secret.to_vec(),
        Some(ISSUER.to_string()),
        account.to_string(),
    )
}

/// A new random secret (160 bits, as RFC 4226 recommends).
pub fn new_secret() -> Vec<u8> {
    let mut bytes = vec![0u8; 20];
    rand::rng().fill(bytes.as_mut_slice());
    bytes
}

/// The secret as people type it into an authenticator app: base32, in groups of four.
pub fn secret_for_typing(secret: &[u8]) -> String {
    let Secret::Encoded(text) = Secret::Raw(secret.to_vec()).to_encoded() else {
        return String::new();
    };
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `otpauth://` address an authenticator app reads from the QR code.
pub fn otpauth_url(secret: &[u8], account: &str) -> String {
    totp(secret, account).get_url()
}

/// The QR code of `text` as a standalone SVG document.
pub fn qr_svg(text: &str) -> String {
    QrCode::new(text.as_bytes())
        .map(|code| {
            code.render::<svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default()
}

/// The code as typed, reduced to its six digits (spaces and dashes dropped); None when it is not
/// six digits.
pub fn normalize_code(typed: &str) -> Option<String> {
    let digits: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

/// The step (Unix time / 30) whose code `typed` is, looking at the step of `unix_time` and one
/// either side; None when it matches none of them.
pub fn matching_step(secret: &[u8], typed: &str, unix_time: u64) -> Option<u64> {
    let code = normalize_code(typed)?;
    let totp = totp(secret, "");
    let now = unix_time / STEP_SECONDS;
    [now, now.saturating_sub(1), now + 1]
        .into_iter()
        .find(|step| {
            let expected = totp.generate(step * STEP_SECONDS);
            bool::from(expected.as_bytes().ct_eq(code.as_bytes()))
        })
}

/// The code for the step of `unix_time` (for tests and tools that play the authenticator).
pub fn code_at(secret: &[u8], unix_time: u64) -> String {
    totp(secret, "").generate(unix_time)
}

/// Ten new recovery codes, as shown once: `xxxxx-xxxxx`, 50 random bits each, from an alphabet
/// without look-alike characters.
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut code = String::with_capacity(11);
            for i in 0..10 {
                if i == 5 {
                    code.push('-');
                }
                code.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
            }
            code
        })
        .collect()
}

/// What is stored of a recovery code: the SHA-256 of its letters and digits, lower-cased, so
/// that case, spaces and dashes do not matter when it is typed.
pub fn recovery_code_hash(typed: &str) -> Vec<u8> {
    let letters: String = typed
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Sha256::digest(letters.as_bytes()).to_vec()
}

/// Whether `typed` looks like a recovery code rather than a six-digit code.
pub fn looks_like_recovery_code(typed: &str) -> bool {
    typed.chars().filter(char::is_ascii_alphanumeric).count() == 10
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238, appendix B: the SHA-1 secret and times, with the last six digits of each code.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_follow_rfc_6238() {
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(RFC_SECRET, time), code, "at {time}");
        }
    }

    #[test]
    fn a_code_matches_its_step_and_one_step_either_side_only() {
        let now = 1_700_000_015;
        let step = now / STEP_SECONDS;
        let current = code_at(RFC_SECRET, now);
        assert_eq!(matching_step(RFC_SECRET, &current, now), Some(step));
        // The previous and the next step's codes are accepted (clock drift), and say which step.
        let previous = code_at(RFC_SECRET, now - STEP_SECONDS);
        assert_eq!(matching_step(RFC_SECRET, &previous, now), Some(step - 1));
        let next = code_at(RFC_SECRET, now + STEP_SECONDS);
        assert_eq!(matching_step(RFC_SECRET, &next, now), Some(step + 1));
        // Two steps away is too far.
        let old = code_at(RFC_SECRET, now - 2 * STEP_SECONDS);
        assert_ne!(old, current);
        assert_eq!(matching_step(RFC_SECRET, &old, now), None);
        let later = code_at(RFC_SECRET, now + 2 * STEP_SECONDS);
        assert_eq!(matching_step(RFC_SECRET, &later, now), None);
    }

    #[test]
    fn typed_codes_are_normalized_and_malformed_ones_refused() {
        let now = 1_700_000_015;
        let code = code_at(RFC_SECRET, now);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(matching_step(RFC_SECRET, &spaced, now).is_some());
        for bad in [
            "",
            "12345",
            "1234567",
            "abcdef",
            "12 34 5x",
            "１２３４５６",
            "\u{0}23456",
        ] {
            assert_eq!(matching_step(RFC_SECRET, bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn replay_is_visible_through_the_step() {
        // The same code typed twice within its step names the same step: the caller refuses a
        // step not newer than the last one accepted.
        let now = 1_700_000_015;
        let code = code_at(RFC_SECRET, now);
        let first = matching_step(RFC_SECRET, &code, now);
        let again = matching_step(RFC_SECRET, &code, now + 10);
        assert_eq!(first, again);
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_hash_the_same_however_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        let code = &codes[0];
        assert!(looks_like_recovery_code(code));
        assert_eq!(
            recovery_code_hash(code),
            recovery_code_hash(&code.to_uppercase().replace('-', " "))
        );
        assert_ne!(recovery_code_hash(code), recovery_code_hash(&codes[1]));
    }

    #[test]
    fn the_secret_reads_as_base32_and_the_qr_code_as_svg() {
        let secret = new_secret();
        assert_eq!(secret.len(), 20);
        let typed = secret_for_typing(&secret);
        assert_eq!(typed.replace(' ', "").len(), 32);
        let url = otpauth_url(&secret, "ada@example.com");
        assert!(
            url.starts_with("otpauth://totp/Gatehouse:ada%40example.com?"),
            "{url}"
        );
        assert!(url.contains(&format!("secret={}", typed.replace(' ', ""))));
        let svg = qr_svg(&url);
        assert!(svg.contains("<svg") && svg.contains("<path"));
    }
}
