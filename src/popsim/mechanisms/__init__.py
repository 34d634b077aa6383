"""One module per mechanism: pure kernels and a thin monthly step over the state."""
