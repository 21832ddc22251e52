//! The `rotaledger` binary.
fn main() {}
