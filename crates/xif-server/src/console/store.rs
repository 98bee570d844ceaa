//! The Service Center's own storage: browser sessions, the log of failed action calls, and the
//! read-only queries its pages need. The SQL lives in `xif-store` (`console.rs` there, as
//! methods of `Db`); this module names what the console uses.
pub use xif_store::{ActionErrorRow, ListedExtension, RecentPublish, UserLine};

impl From<xif_store::Error> for super::ConsoleError {
    fn from(e: xif_store::Error) -> super::ConsoleError {
        super::ConsoleError::App(e.into())
    }
}
