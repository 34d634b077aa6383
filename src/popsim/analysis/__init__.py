"""Comparisons with intervals, the report's tables and figures, papermill batches."""
