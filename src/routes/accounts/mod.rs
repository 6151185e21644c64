//! Accounts: sign up, email verification, sign in and out, forgotten and changed passwords.

pub mod account;
pub mod api_keys;
pub mod passkeys;
pub mod password;
pub mod sessions;
pub mod signin;
pub mod signup;
pub mod two_factor;
pub mod verify;

use actix_web::http::StatusCode;

use crate::error::AppError;
use crate::ops::reauth::Reauth;
use crate::routes::page::Page;

/// Shown to an unverified account that tries to add a way to sign in.
pub const VERIFY_FIRST: &str =
    "Verify your email address first: the link is in the email sent when you signed up.";

/// Changing how the account signs in (turning on an authenticator app, adding or removing a
/// passkey) takes the password, typed now (`typed`) or within this session's re-entry window
/// (`SUDO_MINUTES`), so a stolen session alone cannot add a way in or take one away; and adding
/// one takes a verified address, so nobody sets one up on an address before its owner holds the
/// account. `Err`: the status and the message to show beside the password.
pub async fn may_change_sign_in(
    cx: &Page,
    typed: &str,
    adding: bool,
) -> Result<Result<(), (StatusCode, &'static str)>, AppError> {
    if adding && !cx.auth.require_user()?.is_verified() {
        return Ok(Err((StatusCode::FORBIDDEN, VERIFY_FIRST)));
    }
    let answer = super::reconfirm_password(cx, typed).await?;
    Ok(match answer {
        Reauth::Fresh | Reauth::Confirmed => Ok(()),
        Reauth::Missing => Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your password to change how you sign in.",
        )),
        Reauth::Wrong => Err((StatusCode::UNPROCESSABLE_ENTITY, answer.problem())),
        Reauth::Locked => Err((StatusCode::TOO_MANY_REQUESTS, answer.problem())),
    })
}
