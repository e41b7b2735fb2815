"""Asset checks by role: the blocking quality gate of each raw table."""
