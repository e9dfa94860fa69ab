//! Fleets: edge devices, edge servers and cloud pools, generated from the hardware and
//! network tables in `testbed/fleet/` under a seed.

use std::collections::BTreeMap;

use compass_planners::model::{Device, Link};
use compass_schemas::{DeviceTelemetry, Tier};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

pub const HARDWARE: &str = include_str!("../fleet/hardware.toml");
pub const NETWORK: &str = include_str!("../fleet/network.toml");

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareClass {
    pub name: String,
    pub tier: Tier,
    pub speed: f64,
    pub gpus: u32,
    /// Per GPU.
    pub gpu_memory_mb: f64,
    /// Whole machine.
    pub price_usd_per_hour: f64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Technology {
    pub name: String,
    pub uplink_mbps: Vec<f64>,
    pub rtt_ms: Vec<f64>,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineLink {
    pub uplink_mbps: f64,
    pub rtt_ms: f64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub technology: Vec<Technology>,
    pub edge_server: MachineLink,
    pub cloud: MachineLink,
}

#[derive(Deserialize)]
struct HardwareFile {
    class: Vec<HardwareClass>,
}

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("fleet tables: {0}")]
    Parse(String),
    #[error("unknown {what} `{name}`")]
    Unknown { what: &'static str, name: String },
}

/// The hardware classes and access networks the fleets are drawn from.
#[derive(Debug, Clone)]
pub struct Tables {
    pub classes: BTreeMap<String, HardwareClass>,
    pub network: Network,
}

impl Tables {
    pub fn builtin() -> Result<Self, FleetError> {
        let hw: HardwareFile =
            toml::from_str(HARDWARE).map_err(|e| FleetError::Parse(e.to_string()))?;
        let network: Network =
            toml::from_str(NETWORK).map_err(|e| FleetError::Parse(e.to_string()))?;
        Ok(Tables {
            classes: hw.class.into_iter().map(|c| (c.name.clone(), c)).collect(),
            network,
        })
    }

    pub fn class(&self, name: &str) -> Result<&HardwareClass, FleetError> {
        self.classes.get(name).ok_or_else(|| FleetError::Unknown {
            what: "hardware class",
            name: name.into(),
        })
    }
}

/// What fleet to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSpec {
    pub seed: u64,
    pub edge_devices: usize,
    /// Edge hardware classes with their shares.
    pub edge_mix: Vec<(String, f64)>,
    /// Access technologies with their shares.
    pub network_mix: Vec<(String, f64)>,
    pub edge_servers: usize,
    /// Edge servers per metro pool.
    pub servers_per_pool: usize,
    /// Cloud pools: hardware class and number of machines.
    pub cloud: Vec<(String, usize)>,
}

impl FleetSpec {
    /// A fleet for `edge_devices` users: one edge server per 50 devices, one 8-GPU A100
    /// machine per 200, one H100 machine per 1,000, one single-A10 machine per 100.
    pub fn sized(edge_devices: usize, seed: u64) -> Self {
        let owned = |v: &[(&str, f64)]| v.iter().map(|(n, w)| (n.to_string(), *w)).collect();
        FleetSpec {
            seed,
            edge_devices,
            edge_mix: owned(&[
                ("iphone-15-pro", 0.4),
                ("laptop-snapdragon-x-elite", 0.3),
                ("jetson-orin-nano-8gb", 0.2),
                ("jetson-orin-nx-16gb", 0.1),
            ]),
            network_mix: owned(&[("5g", 0.45), ("lte", 0.25), ("wifi", 0.3)]),
            edge_servers: edge_devices.div_ceil(50),
            servers_per_pool: 10,
            cloud: vec![
                ("a100-80gb".into(), edge_devices.div_ceil(200)),
                ("h100-80gb".into(), edge_devices.div_ceil(1000)),
                ("a10-24gb".into(), edge_devices.div_ceil(100)),
            ],
        }
    }
}

fn pick<'a, R: Rng>(rng: &mut R, mix: &'a [(String, f64)]) -> &'a str {
    let total: f64 = mix.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (name, w) in mix {
        if x < *w {
            return name;
        }
        x -= w;
    }
    &mix[mix.len() - 1].0
}

fn device(id: String, class: &HardwareClass, pool: String, link: Link) -> Device {
    Device {
        id,
        tier: class.tier,
        hardware_class: class.name.clone(),
        pool,
        speed: class.speed,
        gpu_count: class.gpus,
        gpu_memory_mb: class.gpu_memory_mb * f64::from(class.gpus),
        price_usd_per_hour: class.price_usd_per_hour,
        link,
        alive: true,
    }
}

/// Generate the fleet: edge devices first (ids `edge-N`, each in the metro pool it is served
/// from), then edge servers (`es-N`, pools `metro-K`), then cloud machines (`<class>-N`, pool = class).
pub fn generate(spec: &FleetSpec, tables: &Tables) -> Result<Vec<Device>, FleetError> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let technologies: BTreeMap<&str, &Technology> = tables
        .network
        .technology
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    for (name, _) in &spec.network_mix {
        if !technologies.contains_key(name.as_str()) {
            return Err(FleetError::Unknown {
                what: "network technology",
                name: name.clone(),
            });
        }
    }
    let edge_classes: Vec<&HardwareClass> = spec
        .edge_mix
        .iter()
        .map(|(n, _)| tables.class(n))
        .collect::<Result<_, _>>()?;
    let mut devices = Vec::with_capacity(spec.edge_devices + spec.edge_servers + 64);
    let metros = spec
        .edge_servers
        .div_ceil(spec.servers_per_pool.max(1))
        .max(1);
    for i in 0..spec.edge_devices {
        let class_name = pick(&mut rng, &spec.edge_mix);
        let class = edge_classes
            .iter()
            .find(|c| c.name == class_name)
            .copied()
            .unwrap_or(edge_classes[0]);
        let tech = technologies[pick(&mut rng, &spec.network_mix)];
        let up = tech.uplink_mbps[rng.random_range(0..tech.uplink_mbps.len())];
        let rtt = tech.rtt_ms[rng.random_range(0..tech.rtt_ms.len())];
        // Users are spread evenly over the metros; a user's edge servers are its metro's.
        devices.push(device(
            format!("edge-{i}"),
            class,
            format!("metro-{}", i * metros / spec.edge_devices.max(1)),
            Link {
                uplink_mbps: up,
                rtt_ms: rtt,
            },
        ));
    }
    let es = tables.class("a10-24gb-edge")?;
    let es_link = Link {
        uplink_mbps: tables.network.edge_server.uplink_mbps,
        rtt_ms: tables.network.edge_server.rtt_ms,
    };
    for i in 0..spec.edge_servers {
        let pool = format!("metro-{}", i / spec.servers_per_pool.max(1));
        devices.push(device(format!("es-{i}"), es, pool, es_link));
    }
    let cloud_link = Link {
        uplink_mbps: tables.network.cloud.uplink_mbps,
        rtt_ms: tables.network.cloud.rtt_ms,
    };
    for (class_name, machines) in &spec.cloud {
        let class = tables.class(class_name)?;
        for i in 0..*machines {
            devices.push(device(
                format!("{class_name}-{i}"),
                class,
                class_name.clone(),
                cloud_link,
            ));
        }
    }
    Ok(devices)
}

/// The telemetry record a device would publish at `event_time_ms`.
pub fn telemetry(d: &Device, event_time_ms: i64) -> DeviceTelemetry {
    DeviceTelemetry {
        device_id: d.id.clone(),
        event_time_ms,
        tier: d.tier,
        hardware_class: d.hardware_class.clone(),
        pool: d.pool.clone(),
        alive: d.alive,
        speed_factor: 1.0,
        gpu_count: d.gpu_count as i32,
        gpu_memory_total_mb: d.gpu_memory_mb,
        gpu_memory_free_mb: d.gpu_memory_mb,
        gpu_share_free: f64::from(d.gpu_count),
        uplink_mbps: d.link.uplink_mbps,
        rtt_ms: d.link.rtt_ms,
        price_usd_per_hour: d.price_usd_per_hour,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_fleet_and_every_figure_comes_from_the_tables() {
        let t = Tables::builtin().expect("tables");
        let a = generate(&FleetSpec::sized(1000, 7), &t).expect("fleet");
        let b = generate(&FleetSpec::sized(1000, 7), &t).expect("fleet");
        assert_eq!(a, b);
        assert_ne!(a, generate(&FleetSpec::sized(1000, 8), &t).expect("fleet"));
        let ups: Vec<f64> = t
            .network
            .technology
            .iter()
            .flat_map(|x| x.uplink_mbps.clone())
            .collect();
        for d in a.iter().filter(|d| d.tier == Tier::Edge) {
            assert!(
                ups.contains(&d.link.uplink_mbps),
                "{} has an unpublished uplink",
                d.id
            );
            assert_eq!(d.speed, t.classes[&d.hardware_class].speed);
        }
        assert_eq!(a.iter().filter(|d| d.tier == Tier::EdgeServer).count(), 20);
        assert_eq!(
            a.iter().filter(|d| d.tier == Tier::Cloud).count(),
            5 + 1 + 10
        );
    }

    #[test]
    fn every_table_row_has_a_source() {
        let t = Tables::builtin().expect("tables");
        assert!(t.classes.values().all(|c| !c.source.is_empty()));
        assert!(t
            .network
            .technology
            .iter()
            .all(|x| !x.source.is_empty() && !x.uplink_mbps.is_empty() && !x.rtt_ms.is_empty()));
    }
}
