//! Cascade benchmarks.
