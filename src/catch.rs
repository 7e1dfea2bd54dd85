//! Running the user's code so that a panic in it costs one call, not the connection, its
//! neighbours on the reactor or the process.
//!
//! Without this, a panic in a handler unwinds through the connection's `poll` and out of
//! `Core::run`, and every connection of the reactor goes with it. The connection calls
//! the service, polls its futures and builds it through [`catch`], and turns a panic
//! into an error answer (for a request) or a closed connection (for a builder).

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

// ANCHOR: catch
/// Runs `user_code`; returns the panic's message if it panicked.
///
/// `AssertUnwindSafe`: the closures passed here touch only the user's service and
/// futures, never the connection's own state, so no state of ours can be left half
/// updated. What a panic leaves in the user's state is the user's to know (see the
/// documentation of `Service`).
#[inline(always)]
pub(crate) fn catch<T>(user_code: impl FnOnce() -> T) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(user_code)).map_err(message)
}

/// The text a panic carries: `panic!("...")` makes a `&str` or a `String`; anything
/// else (`std::panic::panic_any`) has no text we can show.
#[cold]
#[inline(never)]
fn message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => match payload.downcast_ref::<&'static str>() {
            Some(text) => (*text).to_owned(),
            None => "(the panic carries no message)".to_owned(),
        },
    }
}
// ANCHOR_END: catch

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_a_value_passes_through() {
        let literal = catch(|| -> u8 { panic!("a literal") });
        let formatted = catch(|| -> u8 { panic!("formatted {}", 42) });
        let other = catch(|| -> u8 { panic::panic_any(7u32) });
        assert_eq!(literal, Err("a literal".to_owned()));
        assert_eq!(formatted, Err("formatted 42".to_owned()));
        assert_eq!(other, Err("(the panic carries no message)".to_owned()));
        assert_eq!(catch(|| 5), Ok(5));
    }
}
