"""A/B tests: statistics (pure formulas), data from events or uploaded tables, analysis and planning."""
