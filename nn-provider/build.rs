//! Route B (Debian's 2022 wasi-libc, scripts/setup.sh writes WASM_TOOLCHAIN=debian) lacks
//! `realpath`; only then does the provider define its own (src/libc_shim.rs), so a newer
//! wasi-libc (route A, rustup's target) keeps its real one.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(old_wasi_libc)");
    println!("cargo::rerun-if-env-changed=WASM_TOOLCHAIN");
    if std::env::var("WASM_TOOLCHAIN").as_deref() == Ok("debian") {
        println!("cargo::rustc-cfg=old_wasi_libc");
    }
}
