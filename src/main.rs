//! The `bearmon` binary: everything lives in the library; see `bearmon --help`.

use std::process::ExitCode;

use clap::Parser;

/// glibc raises its mmap threshold each time a large block is freed, so after the first
/// load the big buffers (a full assignment, a page of rows) land in the heap between
/// long-lived small blocks and leave holes it cannot return: at 100,000 checks that was 10 to
/// 20 % of the controller's memory (BENCHMARKS.md). A fixed threshold keeps them in mmap.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fix_mmap_threshold() {
    const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
    unsafe extern "C" {
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    // SAFETY: mallopt only sets a malloc parameter; called before any thread starts.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fix_mmap_threshold() {}

fn main() -> ExitCode {
    fix_mmap_threshold();
    bearmon::init_crypto();
    let cli = bearmon::cli::Cli::parse();
    bearmon::telemetry::init(cli.verbose);
    // One thread: a current-thread runtime, so a check's wake-ups never cross threads.
    let runtime = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(cli.threads.into()).enable_all().build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(bearmon::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", bearmon::cli::error_text(&e));
            ExitCode::from(2)
        }
    }
}
