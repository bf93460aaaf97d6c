"""``reelytics similar --item ID --k N``: items most similar to one item (content-based for cold items)."""

from __future__ import annotations

from analytics.cli.commands.recommend import (
    add_model_args,
    model_from_args,
    positive_int,
)
from analytics.cli.main import Output


def register(sub) -> None:
    p = sub.add_parser("similar")
    p.add_argument("--item", required=True, help="item id")
    p.add_argument("--k", type=positive_int, default=10, help="how many items (default 10)")
    p.add_argument("--min-interactions", type=positive_int, default=5,
                   help="items with fewer users get content-based neighbours (default 5)")
    add_model_args(p)
    p.set_defaults(func=run)


def run(args, ctx) -> Output:
    from analytics.recsys.content import build_content_index
    from analytics.recsys.similarity import similar_items

    store = ctx.store  # the DuckDB store (refused on Spark before any training)
    model = model_from_args(args, ctx)
    result = similar_items(model, build_content_index(store), args.item, args.k, args.min_interactions)
    payload = {**result.to_dict(), "model": model.fingerprint, "device": model.device}
    how = ("ALS item factors, cosine" if result.source == "als"
           else f"content (title, tags, category): only {result.interactions} user(s) interacted with it")
    lines = [f"items similar to {result.item} {result.title or ''} — {how}"]
    if result.status == "no_catalog":
        lines.append("  no catalog text (title, tags, category) to compare with")
    elif result.status == "no_neighbours":
        lines.append("  no catalog item shares a word, tag or category with it")
    for n, e in enumerate(result.items, 1):
        lines.append(f"{n:>3}. {e.item:<16} {e.score:7.4f}  [{e.source}]  {e.title or ''}")
    return Output(payload, "\n".join(lines))
