//! Organizations: the list of mine, creating one, its home page and its settings.

pub mod delete;
pub mod home;
pub mod leave;
pub mod list;
pub mod new;
pub mod settings;
pub mod show;
