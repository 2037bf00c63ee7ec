//! Logits → probabilities → the K most likely labels. Labels are the model's class names
//! by output index ([`crate::ModelSpec::labels`], compiled in from its label file).

use serde::Serialize;

/// One ranked class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub index: usize,
    pub label: String,
    pub probability: f32,
}

/// Numerically stable softmax (subtract the max, exponentiate, normalise).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = logits.iter().map(|&z| f64::from(z - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| (e / sum) as f32).collect()
}

/// The `k` highest probabilities, best first (ties: lower index first).
pub fn top_k(probs: &[f32], k: usize, labels: &[&str]) -> Vec<Prediction> {
    let n = probs.len().min(labels.len());
    let mut order: Vec<usize> = (0..n).collect();
    let rank = |a: &usize, b: &usize| probs[*b].total_cmp(&probs[*a]).then(a.cmp(b));
    // Only the K best need an order: select them first (a total order, so the same K and
    // the same order as sorting all 1000).
    if k < n {
        order.select_nth_unstable_by(k, rank);
        order.truncate(k);
    }
    order.sort_by(rank);
    order
        .into_iter()
        .map(|i| Prediction { index: i, label: labels[i].to_owned(), probability: probs[i] })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_survives_large_logits() {
        let p = softmax(&[1000.0, 999.0, -1000.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((p[0] - 0.731_058_6).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn top_k_orders_and_labels() {
        let top = top_k(&[0.2, 0.5, 0.3], 2, &["a", "b", "c"]);
        assert_eq!(top.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(top_k(&[0.2, 0.5], 5, &["a", "b"]).len(), 2);
        assert!(top_k(&[0.2, 0.5], 0, &["a", "b"]).is_empty());
    }

    #[test]
    fn top_k_is_the_head_of_a_full_sort_ties_by_index() {
        let probs: Vec<f32> = (0..1000).map(|i| ((i * 7919) % 997) as f32 / 997.0).collect();
        let labels: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        let mut all: Vec<usize> = (0..1000).collect();
        all.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
        for k in [1, 5, 20, 999, 1000] {
            let got: Vec<usize> = top_k(&probs, k, &labels).iter().map(|p| p.index).collect();
            assert_eq!(got, all[..k], "k = {k}");
        }
    }
}
