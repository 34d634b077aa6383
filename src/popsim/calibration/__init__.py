"""Fitting a scenario's uncertain parameters to target ranges."""
