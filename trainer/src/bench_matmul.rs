//! `margan bench --matmul`: after the iterations, the table of every matrix product shape the
//! `tiled` path measured (`MatmulTuning::Measure`): burn's autotuned `matmul` and each variant
//! of margan's tiled kernel on the same operands, which one is kept, and its speed against
//! burn's.

use margan::kernels::matmul::{tune_records, MatmulChoice, MatmulVariant, TcVariant, TuneRecord};

/// Prints the tuner's records (nothing measured: says why).
pub fn print() {
    let records = tune_records();
    if records.is_empty() {
        println!(
            "matrix products: none measured (the tuner measures products of at least 2^24 \
             multiply-adds on the tiled path, native wgpu, --matmul-tuning measure)"
        );
        return;
    }
    println!(
        "matrix products measured by the tiled path (ms per product, mean of synchronised \
         launches; layout r = row-major operand, t = transposed view; burn = burn's autotuned matmul)"
    );
    // The tensor-core variants measured on some shape (measure-f16, measure-f16x3).
    let f16 = TcVariant::every()
        .map(MatmulChoice::TensorCores)
        .filter(|&c| records.iter().any(|r| r.times.iter().any(|t| t.0 == c)));
    let mut choices: Vec<MatmulChoice> = MatmulVariant::ALL.map(MatmulChoice::Kernel).to_vec();
    choices.extend(f16);
    // Each column as wide as its name (at least 7); `kept` as the longest name.
    let width = |c: &MatmulChoice| c.name().len().max(7);
    let w = choices.iter().map(width).max().unwrap_or(0).max(10);
    let mut header = format!("{:>6} {:>6} {:>6} {:>3} {:>8}", "m", "n", "k", "ab", "burn");
    for c in &choices {
        header += &format!(" {:>1$}", c.name(), width(c));
    }
    header += &format!(" {:>w$} {:>8} {:>9}", "kept", "TFLOP/s", "vs burn");
    println!("{header}");
    let (mut burn_total, mut kept_total) = (0.0, 0.0);
    for r in &records {
        let time_of = |c: MatmulChoice| r.times.iter().find(|t| t.0 == c).map(|t| t.1);
        let layout: String = r
            .row_major
            .iter()
            .map(|&x| if x { 'r' } else { 't' })
            .collect();
        let burn = time_of(MatmulChoice::Burn).unwrap_or(f64::NAN);
        let kept = time_of(r.chosen).unwrap_or(f64::NAN);
        let mut line = format!("{:>6} {:>6} {:>6} {layout:>3} {burn:>8.3}", r.m, r.n, r.k);
        for c in &choices {
            let cw = width(c);
            match time_of(*c) {
                Some(t) => line += &format!(" {t:>cw$.3}"),
                None => line += &format!(" {:>cw$}", "-"),
            }
        }
        let tflops = 2.0 * (r.m * r.n * r.k) as f64 / (kept * 1e-3) / 1e12;
        line += &format!(
            " {:>w$} {tflops:>8.2} {:>8.2}×",
            r.chosen.name(),
            burn / kept
        );
        println!("{line}");
        burn_total += burn;
        kept_total += kept;
    }
    println!(
        "{} shapes: burn's matmul {burn_total:.3} ms, the kept products {kept_total:.3} ms \
         (each shape once): {:.2}× burn's",
        records.len(),
        burn_total / kept_total
    );
    println!("kept: {}", kept_tally(&records));
}

/// How many shapes kept each product, most first (ties in the tuner's order of candidates),
/// e.g. `burn 6, 128x128+vec 4, 64x64+pf 1`.
fn kept_tally(records: &[TuneRecord]) -> String {
    let mut tally: Vec<(MatmulChoice, usize)> = Vec::new();
    for r in records {
        match tally.iter_mut().find(|t| t.0 == r.chosen) {
            Some(t) => t.1 += 1,
            None => tally.push((r.chosen, 1)),
        }
    }
    let order = |c: &MatmulChoice| {
        std::iter::once(MatmulChoice::Burn)
            .chain(MatmulVariant::ALL.map(MatmulChoice::Kernel))
            .chain(TcVariant::every().map(MatmulChoice::TensorCores))
            .position(|x| x == *c)
            .unwrap_or(usize::MAX)
    };
    tally.sort_by_key(|t| (std::cmp::Reverse(t.1), order(&t.0)));
    tally
        .iter()
        .map(|(c, n)| format!("{} {n}", c.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_the_kept_products_most_first() {
        let record = |chosen| TuneRecord {
            m: 64,
            n: 64,
            k: 64,
            row_major: [true, true],
            times: Vec::new(),
            chosen,
        };
        let vec = MatmulChoice::Kernel(MatmulVariant::vectorised(8, 8));
        let pf = MatmulChoice::Kernel(MatmulVariant::DEFAULT);
        let records = [
            record(pf),
            record(vec),
            record(MatmulChoice::Burn),
            record(vec),
        ];
        assert_eq!(kept_tally(&records), "128x128+vec 2, burn 1, 64x64+pf 1");
    }
}
