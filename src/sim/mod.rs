//! A simulated Sail Batch API on loopback, for the demo, the benchmarks and tests.
