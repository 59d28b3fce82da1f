//! Session unit tests.
