//! Throughput measurements that back the figures in the README. Each
//! figure is measured in the same process as its baseline, because the
//! machines baton runs on are shared and noisy.

mod all;
mod histogram;
pub mod kill;
mod load;
mod model;

pub use all::{
    AllConfig, AllFigures, HarnessRun, Machine, MutantTimes, all, load_average, markdown, median,
    table,
};

pub use histogram::Histogram;
pub use load::{
    EchoLoad, EchoSlice, LAYOUT_OWN_PAGE, LAYOUT_SHARED_PAGE, LoadRatio, LoadRun, Memory,
    ServerFigures, SoakConfig, SoakFigures, SoakSample, process_cpu_s, server, server_table, soak,
    soak_report,
};
pub use model::{Corpus, ModelFigures, model};
