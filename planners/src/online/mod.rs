//! The planner's per-epoch steps, as pure functions over plain rows, for the dataflow to call.
//!
//! The dataflow (`compass-dataflow`) keeps collections of [`rows`] and, when an input
//! changes, calls:
//! - [`stats::ConfigStats::add`] to fold a profile sample into its configuration's statistics;
//! - [`clusters::cluster_of`] and [`clusters::ClusterSpec::merge`] to group queries that ask
//!   alike;
//! - [`search::search_cluster`] to rerun one cluster's search from its application's
//!   statistics: the candidates it yields and the next configuration worth profiling, or
//!   another round of inputs for a candidate still undecided ([`rounds`]);
//! - [`bind::Bindings::plan`] to bind members' candidates to concrete machines and match
//!   queries to plans under capacity, warm-started from the current decisions (members
//!   bound before and unchanged are not bound again).
//!
//! Every row has a total order and a hash (floats travel as [`Fx`], ids as shared [`Name`]s,
//! cheap to clone into the dataflow's arrangements) so that it can live in a
//! differential collection and cross workers.

pub mod bind;
pub mod clusters;
pub mod expand;
#[cfg(test)]
mod fixtures;
pub mod fx;
pub mod name;
pub mod objective;
pub mod rounds;
pub mod rows;
pub mod search;
pub mod stats;

pub use fx::Fx;
pub use name::Name;
