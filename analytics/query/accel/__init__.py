"""Accelerators of the query layer: each declares the queries and filter fields it answers exactly."""
