//! The models the classify component knows: name, input shape, normalisation and class
//! names. The graph itself lives with the wasi-nn provider (the host's registry or a
//! composed Wasm provider) and is found by the same name.
//!
//! The class names are compiled in: each model's `labels.txt` is split into lines by a
//! `const fn` while the crate compiles, so a request neither reads a file nor parses one,
//! and a label file with the wrong number of lines (or one that is missing) fails the
//! build, naming the file — not a request at run time.

/// How 8-bit RGB values become model inputs (per `../shared/model/README.md`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Normalisation {
    /// `(p/255 - mean[c]) / std[c]` — torchvision ImageNet weights.
    MeanStd { mean: [f32; 3], std: [f32; 3] },
    /// `(p - centre) / scale` — TF-trained Lite weights.
    Affine { centre: f32, scale: f32 },
}

/// One classification model.
#[derive(Debug, Clone, Copy)]
pub struct ModelSpec {
    /// Graph name for wasi-nn `load-by-name`, and the `?model=` value.
    pub name: &'static str,
    /// Name of the graph input the tensor is bound to.
    pub input_name: &'static str,
    /// NCHW input shape.
    pub input_shape: [u32; 4],
    /// Number of output classes (= entries in `labels`).
    pub classes: usize,
    pub normalisation: Normalisation,
    /// Class names by output index, from the model's `labels.txt` at build time.
    pub labels: &'static [&'static str],
}

const IMAGENET_CLASSES: usize = 1000;
const TORCHVISION: Normalisation =
    Normalisation::MeanStd { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
static MOBILENETV2_LABELS: [&str; IMAGENET_CLASSES] =
    lines(include_str!("../../models/mobilenetv2/labels.txt"));
static EFFICIENTNET_LITE0_LABELS: [&str; IMAGENET_CLASSES] =
    lines(include_str!("../../models/efficientnet_lite0/labels.txt"));

/// Every model the component serves; the first is the default.
pub static MODELS: [ModelSpec; 3] = [
    ModelSpec {
        name: "mobilenetv2",
        input_name: "input",
        input_shape: [1, 3, 224, 224],
        classes: IMAGENET_CLASSES,
        normalisation: TORCHVISION,
        labels: &MOBILENETV2_LABELS,
    },
    ModelSpec {
        name: "efficientnet_lite0",
        input_name: "input",
        input_shape: [1, 3, 224, 224],
        classes: IMAGENET_CLASSES,
        normalisation: Normalisation::Affine { centre: 127.0, scale: 128.0 },
        labels: &EFFICIENTNET_LITE0_LABELS,
    },
    // MobileNetV2 quantised to int8 (QDQ) by scripts/quantize_int8.py at set-up: the same
    // input, preprocessing and classes as the fp32 model it is derived from.
    ModelSpec {
        name: "mobilenetv2_int8",
        input_name: "input",
        input_shape: [1, 3, 224, 224],
        classes: IMAGENET_CLASSES,
        normalisation: TORCHVISION,
        labels: &MOBILENETV2_LABELS,
    },
];

/// Look a model up by name.
pub fn find_model(name: &str) -> Option<&'static ModelSpec> {
    MODELS.iter().find(|m| m.name == name)
}

/// The `N` lines of a label file (`\n` or `\r\n` endings, a last line with or without its
/// newline), split at compile time. Any other line count stops the build: the compiler
/// reports the panic at the `static` whose `include_str!` names the file.
const fn lines<const N: usize>(text: &'static str) -> [&'static str; N] {
    let mut out = [""; N];
    let mut rest = text.as_bytes();
    let mut count = 0;
    while !rest.is_empty() {
        let mut end = 0;
        while end < rest.len() && rest[end] != b'\n' {
            end += 1;
        }
        let (line, tail) = rest.split_at(end);
        let line = match line {
            [head @ .., b'\r'] => head,
            whole => whole,
        };
        if count == N {
            panic!("this label file has more lines than its model has classes");
        }
        out[count] = match core::str::from_utf8(line) {
            Ok(label) => label,
            Err(_) => panic!("this label file is not UTF-8"),
        };
        count += 1;
        rest = if tail.is_empty() { tail } else { tail.split_at(1).1 };
    }
    if count != N {
        panic!("this label file has fewer lines than its model has classes");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_files_split_like_lines() {
        const THREE: [&str; 3] = lines("a\r\nb c\nd");
        assert_eq!(THREE, ["a", "b c", "d"]);
        const TRAILING: [&str; 2] = lines("x\ny\n");
        assert_eq!(TRAILING, ["x", "y"]);
        for m in &MODELS {
            assert_eq!(m.labels.len(), m.classes, "{}", m.name);
        }
        assert_eq!(MODELS[0].labels[0], "tench");
        assert_eq!(MODELS[0].labels[999], "toilet tissue");
        assert_eq!(find_model("mobilenetv2_int8").unwrap().labels[285], "Egyptian cat");
    }
}
