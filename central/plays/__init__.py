"""Plays: per-window matches merged into plays of 30 s or more on air."""
