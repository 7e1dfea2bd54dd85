//! The pieces of the benchmark crate (bench/src) that our client driver needs, compiled
//! again here so that it links against tokio-core 0.1.12 like the library's users.

#[path = "../../src/drive.rs"]
pub mod drive;
#[path = "../../src/scenario.rs"]
pub mod scenario;
