//! Host-side bindings generated from WIT (`bindgen!`), one module per interface; the WIT
//! files sit beside this one.

/// `fermyon:spin/variables` (Spin's application variables), implemented by
/// the per-request store (`instance/store.rs`).
pub mod variables {
    wasmtime::component::bindgen!({ path: "src/bindings/spin-variables.wit", world: "host" });
}
