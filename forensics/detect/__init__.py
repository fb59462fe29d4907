"""Detections over a case: each emits findings in one shape."""
