//! The two tables' rows: medians of the searches alone, and means per query with Compass
//! also sharing its application's profiles.

use super::searchers::Spent;

/// The results of one application, all its queries and seeds.
#[derive(Default)]
pub struct Results {
    pub alone: Vec<Spent>,
    pub sharing: Vec<Spent>,
    pub vulcan: Vec<Spent>,
    pub exhaustive: Vec<Spent>,
    pub plan_counts: Vec<usize>,
    pub skipped: usize,
}

fn misses(v: &[Spent]) -> usize {
    v.iter().filter(|s| !s.reached).count()
}

/// The row of the table of searches alone: medians, where a miss ranks above every success
/// (it never found what the others found).
pub fn alone_row(app: &str, r: &Results) -> String {
    if r.alone.is_empty() {
        return format!("| {app} | 0 ({}) | | | | | | | | | | |", r.skipped);
    }
    let miss = |s: &Spent, x: f64| if s.reached { x } else { f64::INFINITY };
    let mp = |v: &[Spent]| median(v.iter().map(|s| miss(s, s.profiles as f64)).collect());
    let mg = |v: &[Spent]| median(v.iter().map(|s| miss(s, s.gpu_s)).collect());
    format!(
        "| {app} | {} ({}) | {:.0} | {:.0} | {:.0} | {:.0} | {:.1}× | {:.1} | {:.1} | {:.1} | {:.1}× | {} / {} of {} |",
        r.plan_counts.len(),
        r.skipped,
        median(r.plan_counts.iter().map(|&n| n as f64).collect()),
        mp(&r.alone),
        mp(&r.vulcan),
        mp(&r.exhaustive),
        mp(&r.vulcan) / mp(&r.alone),
        mg(&r.alone),
        mg(&r.vulcan),
        mg(&r.exhaustive),
        mg(&r.vulcan) / mg(&r.alone),
        misses(&r.alone),
        misses(&r.vulcan),
        r.alone.len()
    )
}

/// The row of the table of means: Compass alone, Compass sharing its application's
/// profiles, Vulcan.
pub fn sharing_row(app: &str, r: &Results) -> String {
    if r.alone.is_empty() {
        return format!("| {app} | 0 | | | | | | | | | | | |");
    }
    let mean = |v: &[Spent], f: &dyn Fn(&Spent) -> f64| {
        v.iter().map(f).sum::<f64>() / v.len().max(1) as f64
    };
    let mp = |v: &[Spent]| mean(v, &|s| s.profiles as f64);
    let mg = |v: &[Spent]| mean(v, &|s| s.gpu_s);
    let free = r
        .sharing
        .iter()
        .filter(|s| s.reached && s.profiles == 0)
        .count();
    format!(
        "| {app} | {} | {:.2} | {:.2} | {:.2} | {:.1}× | {:.1}× | {:.1} | {:.1} | {:.1} | {:.1}× | {} of {} | {} / {} / {} |",
        r.plan_counts.len(),
        mp(&r.alone),
        mp(&r.sharing),
        mp(&r.vulcan),
        mp(&r.vulcan) / mp(&r.alone),
        mp(&r.vulcan) / mp(&r.sharing),
        mg(&r.alone),
        mg(&r.sharing),
        mg(&r.vulcan),
        mg(&r.vulcan) / mg(&r.sharing),
        free,
        r.sharing.len(),
        misses(&r.alone),
        misses(&r.sharing),
        misses(&r.vulcan),
    )
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
