"""Reelytics dashboard router: sign-in, pages grouped by role, the language switch and the shared filters.

Run with ``streamlit run dashboard/app.py``. Pages live in ``dashboard/views`` (not ``pages/``:
Streamlit would also serve a ``pages/`` folder as a second, unrouted app); each reads its widgets,
calls one library function and renders the result.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent
if str(ROOT.parent) not in sys.path:  # `streamlit run dashboard/app.py` from a checkout
    sys.path.insert(0, str(ROOT.parent))

from dashboard.common import begin_run, display_settings, sidebar_filters, stale_note  # noqa: E402
from dashboard.i18n import t  # noqa: E402
from dashboard.signin import sign_out_button, signed_in  # noqa: E402

# (group, file, title key, icon, url path); every page has its own address, the Overview included.
PAGES = [
    ("nav.manager", "overview.py", "page.overview", ":material/dashboard:", "overview"),
    ("nav.manager", "funnels.py", "page.funnels", ":material/filter_alt:", "funnels"),
    ("nav.manager", "retention.py", "page.retention", ":material/event_repeat:", "retention"),
    ("nav.manager", "courses.py", "page.courses", ":material/school:", "courses"),
    ("nav.manager", "roi.py", "page.roi", ":material/payments:", "roi"),
    ("nav.manager", "alerts.py", "page.alerts", ":material/notifications_active:", "alerts"),
    ("nav.creator", "videos.py", "page.videos", ":material/smart_display:", "videos"),
    ("nav.creator", "recommendations.py", "page.recommendations", ":material/recommend:", "recommendations"),
    ("nav.creator", "similarity.py", "page.similarity", ":material/grid_on:", "similarity"),
    ("nav.creator", "timing.py", "page.timing", ":material/schedule:", "timing"),
    ("nav.marketer", "data.py", "page.data", ":material/upload_file:", "data"),
    ("nav.marketer", "experiments.py", "page.experiments", ":material/science:", "experiments"),
    ("nav.marketer", "audiences.py", "page.audiences", ":material/groups:", "audiences"),
    ("nav.marketer", "segments.py", "page.segments", ":material/category:", "segments"),
]

begin_run()
st.set_page_config(page_title="Reelytics", page_icon=":material/insights:", layout="wide")
display_settings()
principal = signed_in()  # None: the sign-in screen is shown instead

groups: dict[str, list] = {}
for group, file, title, icon, url in PAGES:
    page = st.Page(ROOT / "views" / file, title=t(title), icon=icon, url_path=url)
    groups.setdefault(t(group), []).append(page)
# Streamlit serves its default page at the root and gives it no path of its own, so a shared link to
# that page's path would open with a "Page not found" dialog. The default is an unlisted root page
# that forwards to the Overview (with the filters in the address), so /overview is an ordinary page.
home = st.Page(ROOT / "views" / "home.py", title=t("page.overview"), default=True, visibility="hidden")
overview = groups[t("nav.manager")][0]
st.session_state["home_target"] = overview
groups[t("nav.manager")].insert(0, home)
# Registered even at the sign-in screen (hidden), so the page in the address opens after sign-in;
# expanded: every role's pages, no "View more".
nav = st.navigation(groups, position="sidebar" if principal else "hidden", expanded=True)
if principal is None:
    st.stop()
st.session_state["actor"] = principal
sign_out_button(principal)
st.session_state["filters"] = sidebar_filters()
above = st.empty()  # above the page: says when it shows results from before the latest upload
try:
    nav.run()
finally:
    stale_note(above)
