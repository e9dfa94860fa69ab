//! Wires Compass: the timely/differential dataflow from input records to assignment changes.
//!
//! Inputs arrive as collections keyed by their natural ids: applications, live queries
//! (inserted on arrival, retracted on departure), device telemetry (latest per device) and
//! profile statistics per configuration (folded incrementally from samples). From them the
//! dataflow maintains similarity clusters, reruns the search of only those clusters whose
//! inputs changed, binds candidates to machines and matches queries to plans per resource
//! partition. What leaves is the *change* in decisions, each stamped with its epoch, and the
//! profile requests the searches want answered.
//!
//! - [`graph`]: the dataflow itself.
//! - [`liveness`]: servers that stop reporting are declared lost after a timeout.
//! - [`log`]: a recorded input log, to replay a run on more workers or at full speed.
//! - [`matching`]: the global matching step, an operator with its own per-partition state.
//! - [`planner`]: one worker's handle on it: feed records, advance an epoch, take changes.
//! - [`records`]: decisions and requests as the Avro records downstream consumers read.
//! - [`settings`]: what a deployment tunes.
//!
//! Planning logic lives in `compass-planners` (pure); this crate only wires it.

pub mod graph;
pub mod liveness;
pub mod log;
pub mod matching;
pub mod planner;
pub mod records;
pub mod settings;

pub use planner::{Change, InputError, Planner};
pub use settings::Settings;
