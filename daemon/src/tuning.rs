//! Process-wide performance settings, made once at start, before other threads run.

/// glibc's default malloc hands big buffers (tensors, canvases) back to the
/// system as soon as they are freed, and the page faults of taking them again
/// then cost most of the time: training ran 2× slower (DESIGN.md). Keeping
/// them costs only memory the process has already used once.
pub fn allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes thresholds.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}

/// For the long-running daemon and watch folder: glibc gives each thread that allocates
/// its own arena (up to 8 per core), and a busy daemon's blocking pool runs dozens of
/// threads, each arena keeping what its thread freed. Two arenas, and a trim of free
/// memory back to the system every 30 s, keep resident memory near what is in use.
pub fn daemon_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes thresholds; malloc_trim only returns free pages.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
        std::thread::Builder::new()
            .name("malloc-trim".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(30));
                    // SAFETY: as above.
                    unsafe { libc::malloc_trim(0) };
                }
            })
            .expect("start the trim thread");
    }
}

/// Fixes the thread count of candle's matrix products in `RAYON_NUM_THREADS`,
/// unless the user set it: `threads`, or else the physical cores. Unset,
/// candle counts the cores again — reading /proc/cpuinfo — on every matrix
/// product, and painting with the model spent two thirds of its time doing
/// that (search: 10.4 s → 3.3 s for four 300-op copies at 128²).
///
/// # Safety
/// Sets an environment variable: call it before any other thread starts.
pub unsafe fn threads(threads: Option<usize>) {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = threads.unwrap_or_else(candle_core::utils::get_num_threads);
        // SAFETY: the caller promises that no other thread runs yet.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
    }
}
