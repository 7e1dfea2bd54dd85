//! The client: written by hand in chapter 3.2.
