"""The app's root address: forwards to the Overview, keeping the filters and language in the URL."""

import streamlit as st

params = [(name, value) for name in st.query_params for value in st.query_params.get_all(name)]
st.switch_page(st.session_state["home_target"], query_params=params)
