"""Reelytics Streamlit dashboard (thin pages over :mod:`analytics`)."""
