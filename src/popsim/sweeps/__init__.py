"""Sweeps over designs of parameter values, on local processes or Dask; sensitivity."""
