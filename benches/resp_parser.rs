//! Placeholder replaced by the parser benchmark.
fn main() {}
