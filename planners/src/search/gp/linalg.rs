//! The two dense kernels the model needs, on flat row-major buffers (see the module's note
//! on why not a library): a Cholesky factor with jitter, and forward substitution.

/// Lower Cholesky factor of the n × n row-major matrix `a`, with growing jitter on failure.
pub(super) fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let scale = (0..n)
        .map(|i| a[i * n + i])
        .fold(0.0f64, f64::max)
        .max(1e-12);
    for jitter in [0.0, 1e-10, 1e-8, 1e-6] {
        let mut l = vec![0.0; n * n];
        let mut ok = true;
        'outer: for i in 0..n {
            for j in 0..=i {
                let mut s = a[i * n + j] + if i == j { jitter * scale } else { 0.0 };
                for k in 0..j {
                    s -= l[i * n + k] * l[j * n + k];
                }
                if i == j {
                    if s <= 0.0 {
                        ok = false;
                        break 'outer;
                    }
                    l[i * n + i] = s.sqrt();
                } else {
                    l[i * n + j] = s / l[j * n + j];
                }
            }
        }
        if ok {
            return Some(l);
        }
    }
    None
}

/// Solve L z = v for lower-triangular row-major L.
pub(super) fn forward(l: &[f64], n: usize, v: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; n];
    for i in 0..n {
        let row = &l[i * n..i * n + i];
        let s: f64 = row.iter().zip(&z[..i]).map(|(a, b)| a * b).sum();
        z[i] = (v[i] - s) / l[i * n + i];
    }
    z
}
