"""The recommendation model of a store: tuned when asked, reused while the data is unchanged, else
trained and saved (the entry point of the CLI, the pages and the audiences)."""

from __future__ import annotations

from analytics.access import Principal, require
from analytics.progress import Progress, no_progress, scaled
from analytics.query.filters import Filters
from analytics.recsys.recommend import (
    AlsParams,
    TrainedModel,
    _remember,
    build_matrix,
    data_fingerprint,
    resolve_device,
    save_model,
    saved_model,
    train,
)
from analytics.recsys.tuning import TuneSettings, tuned_params
from analytics.store.storage import Store


def get_model(store: Store, params: AlsParams = AlsParams(), progress: Progress | None = None,
              filters: Filters | None = None, force: bool = False, tune: TuneSettings | None = None,
              actor: Principal | None = None) -> TrainedModel:
    """The ALS model for the store's current data and ``params``: reused when saved, else trained and saved.

    With ``tune`` (:class:`analytics.recsys.tuning.TuneSettings`) the parameters it does not fix are first
    chosen by :func:`analytics.recsys.tuning.tuned_params` (a saved search is reused while the data is
    unchanged) and the search's summary is saved with the model.

    Raises :class:`BadInput` for ``gpu="on"`` without CUDA and :class:`NotFound` when there are
    no interactions to learn from. Reusing a saved model needs no permission; training one needs
    ``actor`` to have the ``train`` permission (:mod:`analytics.access`).
    """
    progress = progress or no_progress
    resolve_device(params.gpu)  # fail early and clearly, even when a saved model exists
    tuning = None
    if tune is not None:
        found = tuned_params(store, params, tune, filters, progress=scaled(progress, 0.0, 0.8), actor=actor)
        params, tuning = found.params, found.to_dict()
    if not force:
        model = saved_model(store, params, filters)
        if model is not None:
            if tuning is not None and model.tuning != tuning:
                model.tuning = tuning
                save_model(model, store.data_dir / "models")
            progress(1.0, "loaded")
            return model
    require(actor, "train")
    fp = data_fingerprint(store, params, filters)
    progress(0.8 if tune else 0.0, "building_matrix")
    matrix = build_matrix(store, params, filters)
    model = train(matrix, params, progress if tune is None else scaled(progress, 0.8, 1.0),
                  fingerprint=fp, tuning=tuning)
    save_model(model, store.data_dir / "models")
    return _remember(store, (str(store.path), fp), model)
