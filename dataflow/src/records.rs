//! Decisions and profile requests as the Avro records downstream consumers read.
//!
//! An assignment carries its query id (the key on the compacted topic) and the epoch that
//! decided it; consumers keep the record with the highest epoch per query, so a replayed or
//! duplicated record is harmless.

use compass_planners::online::rows::{tier_of, Decision};
use compass_schemas::{
    Assignment, AssignmentStatus, Estimate, KnobSetting, OperatorChoice, PlacedOperator, Plan,
    Prediction, ProfileRequest, StratumQuota,
};

use crate::graph::Ask;
use crate::planner::Change;

fn settings(knobs: &[(String, String)]) -> Vec<KnobSetting> {
    knobs
        .iter()
        .map(|(k, v)| KnobSetting::new(k.clone(), v.clone()))
        .collect()
}

/// The assignment record of a decision made in `epoch`.
pub fn assignment(epoch: u64, d: &Decision, decided_at_ms: i64) -> Assignment {
    let est = |mean: f64, stddev: f64| Estimate { mean, stddev };
    Assignment {
        query_id: d.query_id.clone(),
        decision_epoch: i64::try_from(epoch).unwrap_or(i64::MAX),
        status: if d.assigned() {
            AssignmentStatus::Assigned
        } else {
            AssignmentStatus::Rejected
        },
        plan: d.assigned().then(|| Plan {
            app_id: d.app_id.clone(),
            operators: d
                .operators
                .iter()
                .map(|o| PlacedOperator {
                    operator: o.operator.clone(),
                    knobs: settings(&o.knobs),
                    tier: tier_of(o.tier),
                    device_id: o.device_id.clone(),
                    gpu_share: o.gpu_share.0,
                    gpu_memory_mb: o.gpu_memory_mb.0,
                })
                .collect(),
        }),
        predicted: d.assigned().then(|| Prediction {
            latency_ms: est(d.latency_ms.0, d.latency_ms.0 * d.latency_log_sd.0),
            accuracy: est(d.accuracy.0, d.accuracy_sd.0),
            cost_usd_per_hour: est(d.cost_usd_per_hour.0, 0.0),
            slo_probability: d.slo_probability.0,
        }),
        reason: d.reason.clone(),
        decided_at_ms,
    }
}

/// The record that withdraws a departed query's assignment.
pub fn withdrawal(epoch: u64, query_id: &str, decided_at_ms: i64) -> Assignment {
    Assignment {
        query_id: query_id.to_string(),
        decision_epoch: i64::try_from(epoch).unwrap_or(i64::MAX),
        status: AssignmentStatus::Withdrawn,
        plan: None,
        predicted: None,
        reason: "query departed".into(),
        decided_at_ms,
    }
}

/// A profile request's id: `app:config:stratum`, then `~k` for the (k+1)-th round of inputs
/// of a configuration still undecided (round 0 has none), then `@scope` for a search that
/// reads only its own profiles ([`crate::Settings::per_query_profiles`]). Each round has its
/// own id, so a worker measures fresh inputs for it (it names inputs after the request).
pub fn request_id(app_id: &str, config: u64, stratum: &str, round: u32, scope: &str) -> String {
    let mut id = format!("{app_id}:{config}:{stratum}");
    if round > 0 {
        id.push_str(&format!("~{round}"));
    }
    if !scope.is_empty() {
        id.push('@');
        id.push_str(scope);
    }
    id
}

/// The scope of the request a sample answers (empty: shared by every search). Read after
/// the prefix the sample's own application, configuration and stratum give (a sample carries
/// its request's) and the round, so an `@` or `~` inside an id is not taken for a separator.
pub fn scope_of(app_id: &str, config: u64, stratum: &str, request_id: Option<&str>) -> String {
    let prefix = format!("{app_id}:{config}:{stratum}");
    let Some(rest) = request_id.and_then(|r| r.strip_prefix(&prefix)) else {
        return String::new();
    };
    let rest = match rest.strip_prefix('~') {
        Some(r) => r.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => rest,
    };
    rest.strip_prefix('@').unwrap_or_default().to_string()
}

/// The profile request for a search's ask, to be measured on `hardware_class` with `inputs`
/// inputs of the ask's stratum. The id names application, configuration, stratum and the
/// scope, so the same ask made twice is recognisably the same request.
pub fn profile_request(
    epoch: u64,
    ask: &Ask,
    hardware_class: &str,
    inputs: i32,
    event_time_ms: i64,
) -> ProfileRequest {
    ProfileRequest {
        request_id: request_id(
            &ask.app_id,
            ask.next.config,
            &ask.stratum,
            ask.next.round,
            &ask.scope,
        ),
        app_id: ask.app_id.clone(),
        hardware_class: hardware_class.to_string(),
        operators: ask
            .next
            .ops
            .iter()
            .map(|o| OperatorChoice {
                operator: o.name.clone(),
                knobs: settings(&o.knobs),
            })
            .collect(),
        quotas: vec![StratumQuota {
            stratum: ask.stratum.clone(),
            inputs,
        }],
        decision_epoch: i64::try_from(epoch).unwrap_or(i64::MAX),
        reason: if ask.next.round == 0 {
            "search: most promising unprofiled configuration".into()
        } else {
            format!(
                "search: a candidate's accuracy is still undecided (round {})",
                ask.next.round + 1
            )
        },
        event_time_ms,
    }
}

/// A change as the record it publishes.
#[derive(Debug, Clone, PartialEq)]
pub enum Outbound {
    /// To the assignments topic.
    Assignment(Assignment),
    /// To the profile-requests topic.
    Request(ProfileRequest),
}

pub fn record_of(c: &Change, hardware_class: &str, inputs: i32, now_ms: i64) -> Outbound {
    match c {
        Change::Decided { epoch, decision } => {
            Outbound::Assignment(assignment(*epoch, decision, now_ms))
        }
        Change::Withdrawn {
            epoch, query_id, ..
        } => Outbound::Assignment(withdrawal(*epoch, query_id, now_ms)),
        Change::Profile { epoch, ask } => {
            Outbound::Request(profile_request(*epoch, ask, hardware_class, inputs, now_ms))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_carry_their_scope() {
        let shared = request_id("app:x", 7, "clean@home", 0, "");
        assert_eq!(shared, "app:x:7:clean@home");
        assert_eq!(scope_of("app:x", 7, "clean@home", Some(&shared)), "");
        let own = request_id("app:x", 7, "clean@home", 0, "q@1");
        assert_eq!(scope_of("app:x", 7, "clean@home", Some(&own)), "q@1");
        // Later rounds have ids of their own and read as the same scope.
        let again = request_id("app:x", 7, "clean@home", 2, "q@1");
        assert_eq!(again, "app:x:7:clean@home~2@q@1");
        assert_eq!(scope_of("app:x", 7, "clean@home", Some(&again)), "q@1");
        let shared_again = request_id("app:x", 7, "clean~1", 3, "");
        assert_eq!(shared_again, "app:x:7:clean~1~3");
        assert_eq!(scope_of("app:x", 7, "clean~1", Some(&shared_again)), "");
        // A sample of another configuration does not read as this scope.
        assert_eq!(scope_of("app:x", 8, "clean@home", Some(&own)), "");
        assert_eq!(scope_of("app:x", 7, "clean@home", None), "");
    }
}
