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
