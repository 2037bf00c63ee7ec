//! Every JSON body of the protocol as a serde type: what clients send (`InferRequest`)
//! and what the server answers (metadata, Triton's model configuration, inference
//! results, errors).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Free-form `parameters` objects (`binary_data_size`, `binary_data`, `classification`, …).
pub type Parameters = Map<String, Value>;

/// `POST /v2/models/{name}[/versions/{v}]/infer`: the JSON header of the body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InferRequest {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub parameters: Option<Parameters>,
    pub inputs: Vec<RequestInput>,
    #[serde(default)]
    pub outputs: Option<Vec<RequestOutput>>,
}

/// One input tensor: data inline (`data`) or in the binary tail (`binary_data_size`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RequestInput {
    pub name: String,
    /// Signed so that a negative dimension is reported as such, not as a JSON type error.
    pub shape: Vec<i64>,
    pub datatype: String,
    #[serde(default)]
    pub parameters: Option<Parameters>,
    #[serde(default)]
    pub data: Option<Value>,
}

/// One requested output, with its `binary_data` / `classification` parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RequestOutput {
    pub name: String,
    #[serde(default)]
    pub parameters: Option<Parameters>,
}

/// The JSON header of an inference response (binary outputs follow it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferResponse {
    pub model_name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub model_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    pub outputs: Vec<ResponseOutput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseOutput {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parameters: Option<Parameters>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data: Option<Value>,
}

/// `GET /v2/health/live` and `/v2/health/ready` when the answer is yes (200): Triton's
/// clients read only the status, KServe's `InferenceRESTClient` reads these fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub live: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ready: Option<bool>,
}

/// `GET /v2/models/{name}[/versions/{v}]/ready` when the model is ready (200), as KServe
/// answers it (clients of both kinds read the status).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReady {
    pub name: String,
    pub ready: bool,
}

/// `GET /v2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerMetadata {
    pub name: String,
    pub version: String,
    pub extensions: Vec<String>,
}

/// One tensor in model metadata: `-1` marks the batch dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorMetadata {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<i64>,
}

/// `GET /v2/models/{name}[/versions/{v}]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    pub name: String,
    pub versions: Vec<String>,
    pub platform: String,
    pub inputs: Vec<TensorMetadata>,
    pub outputs: Vec<TensorMetadata>,
}

/// `GET /v2/models/{name}[/versions/{v}]/config`: Triton's model configuration (the
/// subset that describes the I/O; dims exclude the batch dimension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub name: String,
    pub platform: String,
    pub backend: String,
    pub max_batch_size: u32,
    pub input: Vec<ConfigTensor>,
    pub output: Vec<ConfigTensor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigTensor {
    pub name: String,
    /// `TYPE_FP32`, `TYPE_STRING`, …
    pub data_type: String,
    pub dims: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reshape: Option<Reshape>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reshape {
    pub shape: Vec<i64>,
}

/// Every error answer of the protocol: `{"error": "<message>"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OipErrorBody {
    pub error: String,
}
