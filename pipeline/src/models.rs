//! The models the classify component knows: name, input shape, normalisation and where
//! its label file is mounted. The graph itself lives with the wasi-nn provider (the
//! host's registry or a composed Wasm provider) and is found by the same name.

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
    /// Number of output classes (= lines in the label file).
    pub classes: usize,
    pub normalisation: Normalisation,
    /// Path of the label file inside the component (mounted via spin.toml `files`).
    pub labels_path: &'static str,
}

/// Every model the component serves; the first is the default.
pub const MODELS: [ModelSpec; 2] = [
    ModelSpec {
        name: "mobilenetv2",
        input_name: "input",
        input_shape: [1, 3, 224, 224],
        classes: 1000,
        normalisation: Normalisation::MeanStd {
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        },
        labels_path: "/models/mobilenetv2/labels.txt",
    },
    ModelSpec {
        name: "efficientnet_lite0",
        input_name: "input",
        input_shape: [1, 3, 224, 224],
        classes: 1000,
        normalisation: Normalisation::Affine { centre: 127.0, scale: 128.0 },
        labels_path: "/models/efficientnet_lite0/labels.txt",
    },
];

/// Look a model up by name.
pub fn find_model(name: &str) -> Option<&'static ModelSpec> {
    MODELS.iter().find(|m| m.name == name)
}
