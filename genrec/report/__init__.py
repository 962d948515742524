"""Reporting: metrics schema, leaderboard table, human-readable summaries."""
