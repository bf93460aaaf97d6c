"""Reelytics analytics library: storage, ingest, queries, statistics and recommendations.

This package never imports Streamlit; the dashboard and the CLI are thin layers over it.
"""

__version__ = "0.1.0"
