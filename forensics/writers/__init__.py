"""Writers that produce evidence formats (test fixtures, the sample case)."""
