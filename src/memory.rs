//! The process's allocator setting: large freed buffers go straight back to the system.

/// Makes glibc's allocator hand blocks of 128 KiB and more straight back to the system when
/// they are freed. By default the threshold rises each time such a block is freed, so
/// later large buffers (Parquet row groups, merge batches, status bodies) stay in the heap
/// after use and the peak RSS creeps up with the length of the run.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn return_freed_memory() {
    // SAFETY: mallopt takes the allocator's lock and only sets a parameter, so it is sound
    // at any time; called early, it applies to every buffer. A refusal (0) leaves glibc's
    // default in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_freed_memory() {}
