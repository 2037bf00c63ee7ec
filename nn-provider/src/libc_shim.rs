//! Route B builds against Debian's 2022 wasi-libc, which has no `realpath`; std's
//! `fs::canonicalize` names it, and tract's path-based loaders keep that reachable, so
//! the link fails without a definition. The provider never resolves paths (models are
//! read from `/models` by plain open at pre-initialisation), so this one just fails
//! (null, as POSIX realpath does on error). Compiled only on route B (build.rs); a newer
//! wasi-libc keeps its own.

use std::ffi::c_char;

/// # Safety
/// Reads neither argument.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realpath(_path: *const c_char, _resolved: *mut c_char) -> *mut c_char {
    std::ptr::null_mut()
}
