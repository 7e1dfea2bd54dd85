//! Shared pieces of the benchmark: the scenarios, the result line every driver prints,
//! the wire helpers of the load generator and the limit server, and the contract of the
//! example server for the peer servers.

pub mod contract;
pub mod drive;
pub mod scenario;
pub mod wire;
