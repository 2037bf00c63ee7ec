//! Container *create*: the artifact's layers → a loaded [`App`], with everything the
//! operator's environment ([`OperatorEnv`]) and the node ([`node`], [`egress`]) say.
//! Runs in youki's container process (runwasi's `can_handle`), so a bad app fails the
//! pod's start, with its reason in the error ([`crate::refusal`]).

use crate::operator::OperatorEnv;
use crate::{egress, node};
use anyhow::{bail, Context as _};
use containerd_shim_wasm::sandbox::context::{RuntimeContext, Source, WasmLayer};
use spinfer::{app, config, engine, locked, metrics, nn};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Spin's OCI media types (Spin's crates/oci).
pub const SPIN_CONFIG: &str = "application/vnd.fermyon.spin.application.v1+config";
pub const WASM_LAYER: &str = "application/vnd.wasm.content.layer.v1+wasm";
pub const DATA_LAYER: &str = "application/vnd.wasm.content.layer.v1+data";

/// A container's app, ready to serve.
pub struct Prepared {
    pub app: app::App,
    pub env: OperatorEnv,
    pub cores: usize,
}

pub fn prepare(ctx: &impl RuntimeContext) -> anyhow::Result<Prepared> {
    let started = Instant::now();
    let env = OperatorEnv::parse(ctx.envs())?;
    for k in &env.ignored {
        tracing::warn!(variable = %k, "not understood by this shim; ignored");
    }
    let layers = match ctx.entrypoint().source {
        Source::Oci(layers) => layers,
        Source::File(_) => bail!(
            "the image has no Spin app layers (no layer of type {SPIN_CONFIG} or {WASM_LAYER}): \
             it is not a Spin application artifact (pack one with scripts/oci_pack.py or \
             `spin registry push`)"
        ),
    };
    let config_layer = layers
        .iter()
        .find(|l| l.config.media_type().to_string() == SPIN_CONFIG)
        .with_context(|| {
            format!(
                "the image has no Spin application config layer ({SPIN_CONFIG}) among its {} \
                 Wasm/data layers: it is not a Spin application artifact",
                layers.len()
            )
        })?;
    let node = node::files()?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());

    // The container's root is the (empty) image rootfs: the app is written under /tmp.
    let dir = PathBuf::from("/tmp/spinfer-app");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut manifest = locked::materialize(&config_layer.layer, |d| content(layers, d), &dir)
        .context("reading the Spin locked app")?;
    let materialized_ms = started.elapsed().as_millis() as u64;
    for name in env.variables.keys().filter(|n| !manifest.variables.contains_key(*n)) {
        tracing::warn!(variable = %name, "SPIN_VARIABLE_{} names no variable of the app; ignored", name.to_uppercase());
    }
    if let Some(keep) = &env.retain {
        let vars = app::resolve_app_variables(&manifest, &env.variables)?;
        manifest
            .retain_components(keep, &vars)
            .context("SPIN_COMPONENTS_TO_RETAIN (the SpinApp's `components`)")?;
    }
    let egress = egress::policy(node.root(), node.host_dir())?;

    let max_concurrency = 2 * cores;
    let limits = engine::InstanceLimits {
        max_memory_bytes: env.max_instance_memory,
        timeout: Duration::from_secs(30),
        max_instances: (max_concurrency * 4 + 8) as u32,
    };
    let metrics = Arc::new(metrics::Metrics::default());
    let observed = metrics.clone();
    // Models are loaded only if a kept component imports wasi:nn.
    let models = nn::NnSource::OnDemand(Box::new(move || {
        let rc = node.runtime_config()?;
        load_models(node, &rc, cores, observed)
    }));
    let app = app::App::load_with(
        &manifest,
        &env.variables,
        models,
        limits,
        metrics,
        node.cache_dir().as_deref(),
        Arc::new(egress),
    )?;
    tracing::info!(
        app = %manifest.name,
        components = ?manifest.components.keys().collect::<Vec<_>>(),
        max_instance_memory = env.max_instance_memory,
        materialized_ms,
        ms = started.elapsed().as_millis() as u64,
        "app ready"
    );
    Ok(Prepared { app, env, cores })
}

/// The bytes of the layer with `digest`.
fn content<'a>(layers: &'a [WasmLayer], digest: &str) -> Option<&'a [u8]> {
    layers.iter().find(|l| l.config.digest().to_string() == digest).map(|l| l.layer.as_slice())
}

fn load_models(
    node: &node::NodeFiles,
    rc: &config::RuntimeConfig,
    cores: usize,
    metrics: Arc<metrics::Metrics>,
) -> anyhow::Result<nn::SharedRegistry> {
    let started = Instant::now();
    let nn_cfg = &rc.wasi_nn;
    if nn_cfg.backend != "onnx" {
        bail!(
            "the node's runtime config asks for wasi-nn backend {:?}; this shim has onnx",
            nn_cfg.backend
        );
    }
    let models: Vec<(String, PathBuf)> =
        nn_cfg.models.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if models.is_empty() {
        tracing::warn!("the node configures no wasi-nn models: load-by-name will find none");
        return Ok(nn::SharedRegistry::default());
    }
    nn::init_onnxruntime(&node.ort_lib())?;
    let sessions = if nn_cfg.sessions > 0 { nn_cfg.sessions } else { cores };
    let pool = nn::PoolConfig { sessions, intra_threads: nn_cfg.intra_op_threads };
    let observe: nn::InferenceObserver =
        Arc::new(move |model, secs| metrics.inference_done(model, secs));
    // Optimised graphs beside the compiled components in the node's cache (warm node:
    // a third of each model's load time).
    let graphs = node.cache_dir().and_then(|d| nn::GraphCache::new(&d));
    let registry = nn::SharedRegistry::load_onnx(&models, pool, observe, graphs.as_ref())?;
    tracing::info!(
        models = ?nn_cfg.models.keys().collect::<Vec<_>>(),
        sessions_per_model = sessions,
        ms = started.elapsed().as_millis() as u64,
        "wasi-nn: ONNX Runtime sessions loaded"
    );
    Ok(registry)
}
