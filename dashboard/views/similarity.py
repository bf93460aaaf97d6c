"""Similarity: item x item, user x user and user x item heatmaps from the ALS factors; similar-items lists."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402

from analytics.recsys.content import build_content_index  # noqa: E402
from analytics.recsys.recommend import AlsParams  # noqa: E402
from analytics.recsys.similarity import (  # noqa: E402
    DEFAULT_CAP,
    choose_items,
    choose_users,
    item_choices,
    item_heatmap,
    similar_items,
    user_heatmap,
    user_item_heatmap,
)
from dashboard.common import (  # noqa: E402
    current_filters,
    data_version,
    download_buttons,
    duckdb_only,
    get_store,
    guarded,
    require_events,
    trained_model,
)
from dashboard.format import chart, table  # noqa: E402
from dashboard.i18n import t  # noqa: E402

st.title(t("page.similarity"))
st.caption(t("sim.intro"))


def _title(kind: str) -> str:
    return {"item_item": t("sim.heatmap.item_item"), "user_user": t("sim.heatmap.user_user"),
            "user_item": t("sim.heatmap.user_item")}[kind]


@st.cache_resource(show_spinner=False, max_entries=4)
def _content_index(db: str, version: str):
    """The catalog's TF-IDF index, rebuilt only when the data changes."""
    return build_content_index(get_store())


#: Axis labels longer than this are shortened on the axis; the hover shows them in full with the id.
TICK_CHARS = 28


def _tick(label: str) -> str:
    return label if len(label) <= TICK_CHARS else label[: TICK_CHARS - 1] + "…"


def _axis(labels) -> dict:
    """A category axis that draws every label (Plotly would otherwise skip some when crowded)."""
    return {"type": "category", "tickmode": "array", "tickvals": list(labels), "ticktext": [_tick(x) for x in labels],
            "tickfont": {"size": 10}, "automargin": True}


def _named(labels, ids) -> np.ndarray:
    """Hover names: the label with the id beside it (users are labelled by their id already)."""
    return np.asarray([x if x == i else f"{x} · {i}" for x, i in zip(labels, ids)], dtype=object)


def _figure(heatmap):
    hover = np.empty(heatmap.values.shape + (3,), dtype=object)
    hover[..., 0] = _named(heatmap.row_labels, heatmap.row_ids)[:, None]
    hover[..., 1] = _named(heatmap.col_labels, heatmap.col_ids)[None, :]
    hover[..., 2] = np.where(heatmap.seen, t("sim.hover.seen"), "") if heatmap.seen is not None else ""
    cosine = heatmap.kind != "user_item"
    fig = go.Figure(go.Heatmap(
        z=heatmap.values, x=list(heatmap.col_labels), y=list(heatmap.row_labels), customdata=hover,
        colorscale="RdBu", reversescale=True, zmid=0, zmin=-1 if cosine else None, zmax=1 if cosine else None,
        hovertemplate="%{customdata[0]}<br>%{customdata[1]}<br>" + t("sim.hover.value")
        + " %{z:.3f}<br>%{customdata[2]}<extra></extra>",
    ))
    # every row gets room for its label (the page scrolls for long lists)
    fig.update_layout(title=_title(heatmap.kind), height=220 + 14 * len(heatmap.row_ids),
                      xaxis=_axis(heatmap.col_labels), yaxis={**_axis(heatmap.row_labels), "autorange": "reversed"})
    return fig


if duckdb_only() and require_events():
    store = get_store()
    filters = current_filters()
    with guarded():
        params = AlsParams(**st.session_state.get("rec_params", {}))  # the model the Recommendations page uses
        model = trained_model(params, filters)

        view = st.radio(t("sim.view"), ["item_item", "user_user", "user_item"], horizontal=True, key="sim_view",
                        format_func=lambda v: t(f"sim.view.{v}"))
        st.caption(t("sim.cap", cap=DEFAULT_CAP))
        items: list[str] = []
        users: list[str] = []
        if view in ("item_item", "user_item"):
            c1, c2 = st.columns([1, 2])
            choice = c1.radio(t("sim.items_choice"), ["top", "category", "selection"], key="sim_items_choice",
                              format_func=lambda v: t(f"sim.items_choice.{v}"))
            if choice == "top":
                n = int(c2.number_input(t("sim.n_items"), 1, 10 * DEFAULT_CAP, 30, key="sim_n_items"))
                items = choose_items(model, "top", n)
            elif choice == "category":
                categories = sorted({str(f["category"]) for f in model.catalog.values() if f.get("category")})
                category = c2.selectbox(t("sim.category"), categories, key="sim_category")
                items = choose_items(model, "category", category=category) if category else []
            else:
                options = choose_items(model, "top", len(model.item_ids))
                picked = c2.multiselect(t("sim.selection"), options, default=options[:10], key="sim_selection", placeholder=t("common.choose"),
                                        format_func=lambda i: f"{model.title(i) or i} ({i})")
                items = choose_items(model, "selection", selection=picked)
        if view in ("user_user", "user_item"):
            n_users = int(st.number_input(t("sim.n_users"), 1, 10 * DEFAULT_CAP, 30, key="sim_n_users"))
            users = choose_users(model, n_users)
        if view == "item_item":
            heatmap = item_heatmap(model, items, DEFAULT_CAP)
        elif view == "user_user":
            heatmap = user_heatmap(model, users, DEFAULT_CAP)
        else:
            heatmap = user_item_heatmap(model, users, items, DEFAULT_CAP)
        if heatmap.status == "empty":
            st.info(t("sim.empty"))
        else:
            if heatmap.capped:
                st.warning(t("sim.capped", rows=len(heatmap.row_ids), total_rows=heatmap.total_rows,
                             cols=len(heatmap.col_ids), total_cols=heatmap.total_cols, cap=heatmap.cap))
            chart(_figure(heatmap), key="sim_chart")
            # building an Excel file of up to 200 x 200 cells takes seconds: only when asked for
            if st.checkbox(t("sim.export"), value=False, key="sim_export"):
                download_buttons(heatmap.to_wide(), f"similarity_{heatmap.kind}", filters, key="sim_heatmap")

        st.divider()
        st.subheader(t("sim.list.header"))
        content = _content_index(str(store.path), data_version())
        options = item_choices(model, content)
        c1, c2 = st.columns([3, 1])

        def _label(i: str) -> str:
            title = model.title(i) or (content.titles[content.item_index[i]] if i in content.item_index else None)
            return f"{title or i} ({i})"

        item = c1.selectbox(t("sim.list.item"), options, key="sim_item", format_func=_label)
        k = int(c2.number_input(t("sim.list.k"), 1, 100, 10, key="sim_k"))
        result = similar_items(model, content, item, k)
        if result.source == "als":
            st.caption(t("sim.list.als", n=result.interactions))
        else:
            st.info(t("sim.list.cold", n=result.interactions, min=result.min_interactions))
        if result.status == "no_catalog":
            st.info(t("sim.list.no_catalog"))
        elif result.status == "no_neighbours":
            st.info(t("sim.list.no_neighbours"))
        if result.items:
            frame = result.to_frame()
            # the title first (the id where an item has none), the id beside it
            shown = frame.assign(title=frame["title"].fillna(frame["item"]))[["rank", "title", "item", "score", "source"]]
            table(shown.rename(columns={"score": "similarity"}), key="sim_list_table")
            download_buttons(frame, f"similar_to_{result.item}", filters, key="sim_list")
