//! The process's allocator settings: freed memory goes back to the system instead of piling up.

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

/// Elsewhere the allocator has no such threshold (musl, macOS, Windows): nothing to set.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_freed_memory() {}

/// Hands the pages of every freed block back to the system (glibc's `malloc_trim`), so a
/// phase that follows starts from what is live rather than from what earlier phases touched.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn release_free_pages() {
    // SAFETY: malloc_trim locks each arena in turn and only releases pages of free chunks.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn release_free_pages() {}
