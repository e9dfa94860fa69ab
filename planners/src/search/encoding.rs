//! Knob configurations as feature vectors for the surrogates.
//!
//! - **Ordinal**: one feature per knob, the choice index scaled to [0, 1]. Right when choices
//!   are ordered (model sizes, resolutions).
//! - **One-hot**: one feature per choice. Right when they are not (model families); the
//!   paper reports that it sometimes beats continuous encodings.

use ndarray::{Array1, Array2};

use crate::model::{AppModel, Config};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Ordinal,
    OneHot,
}

/// Number of features `encoding` gives `app`'s configurations.
pub fn width(app: &AppModel, encoding: Encoding) -> usize {
    let knobs = app.app.operators.iter().flat_map(|o| o.knobs.iter());
    match encoding {
        Encoding::Ordinal => knobs.count(),
        Encoding::OneHot => knobs.map(|k| k.choices.len()).sum(),
    }
}

/// The feature vector of one configuration.
pub fn encode(app: &AppModel, config: &Config, encoding: Encoding) -> Array1<f64> {
    let mut out = Vec::with_capacity(width(app, encoding));
    let knobs = app.app.operators.iter().flat_map(|o| o.knobs.iter());
    for (k, &choice) in knobs.zip(config.0.iter()) {
        let n = k.choices.len();
        match encoding {
            Encoding::Ordinal => out.push(if n > 1 {
                f64::from(choice) / (n - 1) as f64
            } else {
                0.0
            }),
            Encoding::OneHot => {
                out.extend((0..n).map(|i| if i == choice as usize { 1.0 } else { 0.0 }))
            }
        }
    }
    Array1::from(out)
}

/// Rows of feature vectors for many configurations.
pub fn encode_all(app: &AppModel, configs: &[Config], encoding: Encoding) -> Array2<f64> {
    let w = width(app, encoding);
    let mut m = Array2::zeros((configs.len(), w));
    for (i, c) in configs.iter().enumerate() {
        m.row_mut(i).assign(&encode(app, c, encoding));
    }
    m
}
