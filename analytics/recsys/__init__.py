"""Recommendations and similarity: interaction matrix, ALS model, evaluation, baselines, segments, audiences."""
