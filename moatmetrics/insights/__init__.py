"""Insights over the marts and their trust scores: what to do first (`actions`)."""
