//! A plan: a configuration plus, per operator, where it runs and with what GPU share.

use compass_schemas::Tier;

use super::app::{AppModel, Config, ModelError};
use super::device::Device;

/// Where one operator runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// Index into the device list the plan is evaluated against.
    pub device: usize,
    /// Share of one GPU reserved for this operator, in (0, 1]; ignored for non-DNN operators.
    pub gpu_share: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub config: Config,
    /// One placement per operator, in the application's operator order.
    pub placements: Vec<Placement>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the plan places {found} operators, the application has {expected}")]
    WrongLength { expected: usize, found: usize },
    #[error("operator `{operator}` may not run on tier {tier:?}")]
    TierNotAllowed { operator: String, tier: Tier },
    #[error("operator `{operator}` runs on {device}, which has no GPU")]
    NoGpu { operator: String, device: String },
    #[error("operator `{operator}` has GPU share {share}, expected a value in (0, 1]")]
    BadShare { operator: String, share: f64 },
    #[error("operator `{operator}` sends data down from {from:?} to {to:?}; data only moves up")]
    Downward {
        operator: String,
        from: Tier,
        to: Tier,
    },
    #[error("device index {0} is not in the device list")]
    UnknownDevice(usize),
}

/// Whether `share` is a GPU share a DNN operator may hold: in (0, 1].
pub fn valid_gpu_share(share: f64) -> bool {
    share > 0.0 && share <= 1.0
}

/// Position of a tier on the way from the user's device to the cloud.
pub(crate) fn level(t: Tier) -> u8 {
    match t {
        Tier::Edge => 0,
        Tier::EdgeServer => 1,
        Tier::Cloud => 2,
    }
}

impl Plan {
    /// Structural checks: lengths, allowed tiers, GPUs present, shares in range, data flowing
    /// upward only (the authors' prototype's rule: edge → edge server → cloud).
    pub fn check(&self, app: &AppModel, devices: &[Device]) -> Result<(), PlanError> {
        app.check(&self.config)?;
        if self.placements.len() != app.operator_count() {
            return Err(PlanError::WrongLength {
                expected: app.operator_count(),
                found: self.placements.len(),
            });
        }
        for (i, p) in self.placements.iter().enumerate() {
            let op = &app.app.operators[i];
            let d = devices
                .get(p.device)
                .ok_or(PlanError::UnknownDevice(p.device))?;
            if !app.allowed(i, d.tier) {
                return Err(PlanError::TierNotAllowed {
                    operator: op.name.clone(),
                    tier: d.tier,
                });
            }
            if op.kind == compass_schemas::OperatorKind::Dnn {
                if d.gpu_count == 0 {
                    return Err(PlanError::NoGpu {
                        operator: op.name.clone(),
                        device: d.id.clone(),
                    });
                }
                if !valid_gpu_share(p.gpu_share) {
                    return Err(PlanError::BadShare {
                        operator: op.name.clone(),
                        share: p.gpu_share,
                    });
                }
            }
            for &u in &app.upstream[i] {
                let from = devices
                    .get(self.placements[u].device)
                    .ok_or(PlanError::UnknownDevice(u))?
                    .tier;
                if level(from) > level(d.tier) {
                    return Err(PlanError::Downward {
                        operator: op.name.clone(),
                        from,
                        to: d.tier,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Every plan of `app` whose operators run on devices among `candidates` (indices into
/// `devices`), DNN operators holding `gpu_share` of a GPU. Placements that fail
/// [`Plan::check`] (tier not allowed, no GPU, data flowing down) are left out.
/// Configurations vary slowest, then each operator's device in operator order, the last
/// operator fastest. The product grows as configurations × candidates^operators: meant for
/// small spaces (tests, exhaustive baselines).
pub fn enumerate_plans(
    app: &AppModel,
    devices: &[Device],
    candidates: &[usize],
    gpu_share: f64,
) -> Result<Vec<Plan>, PlanError> {
    let ops = app.operator_count();
    let mut out = Vec::new();
    if candidates.is_empty() {
        return Ok(out);
    }
    for i in 0..app.space_size() {
        let config = app.config(i)?;
        let mut digits = vec![0usize; ops];
        loop {
            let placements = digits
                .iter()
                .enumerate()
                .map(|(op, &d)| Placement {
                    device: candidates[d],
                    gpu_share: if app.kind(op) == compass_schemas::OperatorKind::Dnn {
                        gpu_share
                    } else {
                        0.0
                    },
                })
                .collect();
            let plan = Plan {
                config: config.clone(),
                placements,
            };
            if plan.check(app, devices).is_ok() {
                out.push(plan);
            }
            // Next placement, last operator fastest.
            let mut k = ops;
            loop {
                if k == 0 {
                    break;
                }
                k -= 1;
                digits[k] += 1;
                if digits[k] < candidates.len() {
                    break;
                }
                digits[k] = 0;
            }
            if digits.iter().all(|&d| d == 0) {
                break;
            }
        }
    }
    Ok(out)
}
