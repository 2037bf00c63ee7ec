//! Logits → probabilities → the K most likely labels. Labels come from the model's
//! label file (one class per line, line i = class index i).

use crate::error::PipelineError;
use serde::Serialize;

/// One ranked class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub index: usize,
    pub label: String,
    pub probability: f32,
}

/// The class names of a model, in output order.
#[derive(Debug, Clone)]
pub struct Labels(Vec<String>);

impl Labels {
    /// Parse a label file and check it has exactly `classes` lines.
    pub fn parse(text: &str, classes: usize) -> Result<Self, PipelineError> {
        let names: Vec<String> =
            text.lines().map(|l| l.trim_end_matches('\r').to_owned()).collect();
        if names.len() != classes {
            return Err(PipelineError::LabelCount { found: names.len(), expected: classes });
        }
        Ok(Self(names))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, index: usize) -> &str {
        &self.0[index]
    }

    /// Every label, by class index.
    pub fn names(&self) -> &[String] {
        &self.0
    }
}

/// Numerically stable softmax (subtract the max, exponentiate, normalise).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = logits.iter().map(|&z| f64::from(z - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| (e / sum) as f32).collect()
}

/// The `k` highest probabilities, best first (ties: lower index first).
pub fn top_k(probs: &[f32], k: usize, labels: &Labels) -> Vec<Prediction> {
    let mut order: Vec<usize> = (0..probs.len().min(labels.len())).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k)
        .map(|i| Prediction { index: i, label: labels.get(i).to_owned(), probability: probs[i] })
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
        let labels = Labels::parse("a\nb\nc\n", 3).unwrap();
        let top = top_k(&[0.2, 0.5, 0.3], 2, &labels);
        assert_eq!(top.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(), ["b", "c"]);
    }

    #[test]
    fn wrong_label_count_is_an_error() {
        assert_eq!(
            Labels::parse("a\nb\n", 3).unwrap_err(),
            PipelineError::LabelCount { found: 2, expected: 3 }
        );
    }
}
