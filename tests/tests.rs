//! The integration test binary: drives the real binary and a real server the way a user would.
