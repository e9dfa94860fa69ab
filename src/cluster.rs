//! A `compass run` process's place in a timely cluster: worker threads, process index and
//! the addresses of every process (timely's `-w`, `-p`, `-n`, `-h`). Every process reads the
//! same configuration and computes the same assignment of input partitions to workers, so a
//! cluster gives the same decisions as one process with as many workers.

use crate::config::{ConfigError, PlannerConfig};

/// One process's place in a timely cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// Worker threads in this process.
    pub workers: usize,
    /// This process's index.
    pub process: usize,
    /// Every process's `host:port`, in index order; empty when the process runs alone.
    pub addresses: Vec<String>,
}

impl Cluster {
    /// Where this process stands: `planner.processes`, `process` and `hostfile` (after any
    /// command-line overrides), checked against each other.
    pub fn of(p: &PlannerConfig) -> Result<Cluster, ConfigError> {
        let mut c = Cluster {
            workers: p.workers.max(1),
            process: p.process,
            addresses: Vec::new(),
        };
        if p.processes <= 1 {
            if p.process != 0 {
                return Err(ConfigError::Invalid(format!(
                    "planner.process = {} but planner.processes = 1",
                    p.process
                )));
            }
            return Ok(c);
        }
        if p.hostfile.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "planner.processes = {} needs planner.hostfile (one host:port per process)",
                p.processes
            )));
        }
        let text = std::fs::read_to_string(&p.hostfile).map_err(|source| ConfigError::Read {
            path: p.hostfile.clone(),
            source,
        })?;
        c.addresses = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        if c.addresses.len() < p.processes {
            return Err(ConfigError::Invalid(format!(
                "{} names {} processes, planner.processes = {}",
                p.hostfile,
                c.addresses.len(),
                p.processes
            )));
        }
        c.addresses.truncate(p.processes);
        if p.process >= p.processes {
            return Err(ConfigError::Invalid(format!(
                "planner.process = {} is not below planner.processes = {}",
                p.process, p.processes
            )));
        }
        Ok(c)
    }

    /// One process with `workers` threads.
    pub fn local(workers: usize) -> Self {
        Cluster {
            workers: workers.max(1),
            process: 0,
            addresses: Vec::new(),
        }
    }

    /// The timely configuration that realizes it.
    pub fn timely(&self) -> timely::Config {
        if self.addresses.len() > 1 {
            timely::Config {
                communication: timely::CommunicationConfig::Cluster {
                    threads: self.workers,
                    process: self.process,
                    addresses: self.addresses.clone(),
                    report: false,
                    zerocopy: false,
                },
                worker: timely::WorkerConfig::default(),
            }
        } else {
            timely::Config::process(self.workers)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planner(processes: usize, process: usize, hostfile: &str) -> PlannerConfig {
        PlannerConfig {
            workers: 2,
            processes,
            process,
            hostfile: hostfile.into(),
            ..Default::default()
        }
    }

    #[test]
    fn one_process_needs_no_hostfile() {
        let c = Cluster::of(&planner(1, 0, "")).expect("valid");
        assert_eq!(c, Cluster::local(2));
        assert!(Cluster::of(&planner(1, 1, "")).is_err());
    }

    #[test]
    fn a_cluster_reads_its_addresses_and_checks_the_index() {
        let dir = std::env::temp_dir().join(format!("compass-hosts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("hosts");
        std::fs::write(&file, "# planner processes\na:2101\n\nb:2101\nc:2101\n").expect("write");
        let path = file.display().to_string();
        let c = Cluster::of(&planner(2, 1, &path)).expect("valid");
        assert_eq!(c.addresses, vec!["a:2101", "b:2101"]);
        assert_eq!(c.process, 1);
        let err = Cluster::of(&planner(2, 2, &path)).expect_err("index out of range");
        assert!(err.to_string().contains("not below"), "{err}");
        let err = Cluster::of(&planner(4, 0, &path)).expect_err("too few hosts");
        assert!(err.to_string().contains("names 3 processes"), "{err}");
        let err = Cluster::of(&planner(2, 0, "")).expect_err("no hostfile");
        assert!(err.to_string().contains("planner.hostfile"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
