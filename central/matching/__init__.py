"""Matching: the in-memory reference index and offset- and speed-consistent voting."""
