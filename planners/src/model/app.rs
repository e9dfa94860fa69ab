//! `AppModel`: an application's operator DAG in topological order and its knob space.
//!
//! A [`Config`] picks one choice per knob of every operator. Configurations are numbered
//! 0..size in mixed radix (the last knob varies fastest), so a search can enumerate or sample
//! them without materializing the space.

use compass_schemas::{
    Application, KnobChoice, KnobSetting, Limits, OperatorChoice, OperatorKind, Record, Tier,
};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("invalid application: {0}")]
    Invalid(#[from] compass_schemas::ValidationError),
    #[error("configuration index {index} is outside the knob space of {size} configurations")]
    OutOfSpace { index: u128, size: u128 },
    #[error("a configuration for `{app}` needs {expected} choices, got {found}")]
    WrongArity {
        app: String,
        expected: usize,
        found: usize,
    },
}

/// One choice index per knob, operators in pipeline order, knobs in declaration order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Config(pub Vec<u16>);

/// A validated application, ready for the performance model.
#[derive(Debug, Clone, PartialEq)]
pub struct AppModel {
    pub app: Application,
    /// Operator indices in a topological order of the `inputs` edges.
    pub order: Vec<usize>,
    /// For each operator, the indices of its upstream operators.
    pub upstream: Vec<Vec<usize>>,
    /// Offset of each operator's first knob in a [`Config`].
    knob_offset: Vec<usize>,
    /// Number of choices of every knob, flattened in [`Config`] order.
    radix: Vec<u16>,
}

impl AppModel {
    pub fn new(app: Application, limits: &Limits) -> Result<Self, ModelError> {
        app.validate(limits)?;
        let n = app.operators.len();
        let index = |name: &str| app.operators.iter().position(|o| o.name == name);
        let upstream: Vec<Vec<usize>> = app
            .operators
            .iter()
            .map(|o| o.inputs.iter().filter_map(|i| index(i)).collect())
            .collect();
        // Validation guarantees a DAG; a depth-first post-order gives a topological order.
        let mut order = Vec::with_capacity(n);
        let mut seen = vec![false; n];
        fn visit(i: usize, up: &[Vec<usize>], seen: &mut [bool], order: &mut Vec<usize>) {
            if seen[i] {
                return;
            }
            seen[i] = true;
            for &u in &up[i] {
                visit(u, up, seen, order);
            }
            order.push(i);
        }
        for i in 0..n {
            visit(i, &upstream, &mut seen, &mut order);
        }
        let mut knob_offset = Vec::with_capacity(n);
        let mut radix = Vec::new();
        for op in &app.operators {
            knob_offset.push(radix.len());
            radix.extend(op.knobs.iter().map(|k| k.choices.len() as u16));
        }
        Ok(AppModel {
            app,
            order,
            upstream,
            knob_offset,
            radix,
        })
    }

    pub fn id(&self) -> &str {
        &self.app.app_id
    }

    pub fn operator_count(&self) -> usize {
        self.app.operators.len()
    }

    pub fn kind(&self, op: usize) -> OperatorKind {
        self.app.operators[op].kind
    }

    pub fn allowed(&self, op: usize, tier: Tier) -> bool {
        self.app.operators[op].allowed_tiers.contains(&tier)
    }

    /// Number of configurations (saturating).
    pub fn space_size(&self) -> u128 {
        self.radix
            .iter()
            .fold(1u128, |a, &r| a.saturating_mul(u128::from(r)))
    }

    /// The configuration with mixed-radix number `index`.
    pub fn config(&self, mut index: u128) -> Result<Config, ModelError> {
        let size = self.space_size();
        if index >= size {
            return Err(ModelError::OutOfSpace { index, size });
        }
        let mut digits = vec![0u16; self.radix.len()];
        for (d, &r) in digits.iter_mut().zip(self.radix.iter()).rev() {
            *d = (index % u128::from(r)) as u16;
            index /= u128::from(r);
        }
        Ok(Config(digits))
    }

    /// The mixed-radix number of `config` (inverse of [`AppModel::config`]).
    pub fn index_of(&self, config: &Config) -> Result<u128, ModelError> {
        self.check(config)?;
        Ok(config
            .0
            .iter()
            .zip(self.radix.iter())
            .fold(0u128, |a, (&d, &r)| a * u128::from(r) + u128::from(d)))
    }

    pub fn check(&self, config: &Config) -> Result<(), ModelError> {
        if config.0.len() != self.radix.len()
            || config.0.iter().zip(&self.radix).any(|(d, r)| d >= r)
        {
            return Err(ModelError::WrongArity {
                app: self.app.app_id.clone(),
                expected: self.radix.len(),
                found: config.0.len(),
            });
        }
        Ok(())
    }

    /// The choice indices of operator `op`'s knobs within `config`.
    pub fn op_choices<'c>(&self, config: &'c Config, op: usize) -> &'c [u16] {
        let start = self.knob_offset[op];
        &config.0[start..start + self.app.operators[op].knobs.len()]
    }

    /// The chosen [`KnobChoice`] of every knob of operator `op`.
    pub fn chosen<'a>(
        &'a self,
        config: &'a Config,
        op: usize,
    ) -> impl Iterator<Item = &'a KnobChoice> + 'a {
        self.app.operators[op]
            .knobs
            .iter()
            .zip(self.op_choices(config, op))
            .map(|(k, &c)| &k.choices[c as usize])
    }

    /// GPU memory operator `op` needs under `config`, in MiB: the sum of its knobs'
    /// choices' memory times the product of their memory factors.
    pub fn gpu_memory_mb(&self, config: &Config, op: usize) -> f64 {
        let (sum, factor) = self.chosen(config, op).fold((0.0, 1.0), |(s, f), c| {
            (s + c.gpu_memory_mb, f * c.gpu_memory_factor)
        });
        sum * factor
    }

    /// Bytes operator `op` emits per input item under `config` (the largest of its knobs'
    /// figures: output size is a property of the operator's final choice, not a sum).
    pub fn output_bytes(&self, config: &Config, op: usize) -> f64 {
        self.chosen(config, op)
            .map(|c| c.output_bytes_per_input)
            .fold(0.0, f64::max)
    }

    /// The knob settings of operator `op` under `config`, as records carry them.
    pub fn knob_settings(&self, config: &Config, op: usize) -> Vec<KnobSetting> {
        self.app.operators[op]
            .knobs
            .iter()
            .zip(self.op_choices(config, op))
            .map(|(k, &c)| KnobSetting::new(k.name.clone(), k.choices[c as usize].value.clone()))
            .collect()
    }

    /// The first `count` operators with their knob settings: the prefix a profile request
    /// asks workers to run.
    pub fn operator_choices(&self, config: &Config, count: usize) -> Vec<OperatorChoice> {
        (0..count.min(self.operator_count()))
            .map(|op| OperatorChoice {
                operator: self.app.operators[op].name.clone(),
                knobs: self.knob_settings(config, op),
            })
            .collect()
    }

    /// API charge per input item of operator `op`, in USD.
    pub fn api_usd_per_call(&self, config: &Config, op: usize) -> f64 {
        self.chosen(config, op).map(|c| c.api_usd_per_call).sum()
    }
}
