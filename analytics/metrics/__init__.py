"""Metrics: KPIs, funnels, completion, course completion, retention, timing, ROI (numbers and codes, no wording)."""
