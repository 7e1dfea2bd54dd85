//! Only for `examples/soak.rs`, which includes this file by its path: what the soak uses
//! lives in `tests/common` now, with the rest of the tests' shared code. Delete this file
//! once the example says `#[path = "../tests/common/mod.rs"] mod common;` instead.

#[path = "../common/mod.rs"]
mod common;

pub use common::{soak, ExampleServer};
