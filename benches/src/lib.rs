//! Cascade benchmarks: standard workloads, the harness behind `cascade bench`, and the peer
//! comparison.
pub mod cli;
