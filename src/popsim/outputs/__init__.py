"""Tidy tables from a run: indicators, KPIs, result files, replicates."""
