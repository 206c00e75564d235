//! Cascade benchmarks: the standard workloads, the harness behind `cascade bench`, and the
//! peer comparison.
//!
//! - [`workload`]: `mix`, `xc` and the QuantCup feed as engine-neutral operation streams;
//! - [`cascade`]: the streams as engine commands; [`reference`]: the plain reference book;
//! - [`harness`]: throughput, HDR latency, machine description;
//! - [`peers`]: adapters for registry order books and the winning QuantCup C engine;
//! - [`risk`]: the risk benchmarks (margined `xc`, mark updates, cascade, memory);
//! - [`cli`]: `cascade bench`;
//! - [`loadgen`]: `cascade loadgen`, order entry over TCP against the server;
//! - [`report`]: the report format both share; [`plot`]: latency plots as SVG.

pub mod cascade;
pub mod cli;
pub mod fills;
pub mod harness;
pub mod loadgen;
pub mod peers;
pub mod plot;
pub mod reference;
pub mod report;
pub mod risk;
pub mod rng;
pub mod workload;
