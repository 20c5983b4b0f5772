//! shinpan's integration tests: one test binary (each file in tests/ would link separately).
//! They run the real binary and real HTTP against in-process servers on port 0: a scripted
//! fake for fault injection, and shinpan's own simulator; [`support`] holds what they share.

mod adaptive;
mod batch;
mod board;
mod capacity;
mod claims;
mod cli;
mod client;
mod crash;
mod data;
mod fake;
mod fastchat;
mod games;
mod grading_scale;
mod html;
mod integrity;
mod llama;
mod metrics;
mod nightly;
mod outcomes;
mod panel;
mod pipeline;
mod reasoning;
mod resume;
mod review;
mod robustness;
mod scale;
mod shard;
mod support;
mod tasks;
mod upstream;

pub use support::shinpan_bin;
