//! The server: written by hand in chapter 3.1.
