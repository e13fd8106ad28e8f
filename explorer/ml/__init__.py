"""Models: spectrum autoencoder, IR posterior predictor, property heads, baselines, evaluation.

Flow (each step is one function the CLI wraps)::

    explorer.ml.train.train_encoder(catalog, name)      -> models/<name>/encoder.pt
    explorer.ml.train.train_predictor(catalog, name)    -> predictor.pt, properties.pt,
                                                           paper_mlp.pt, photometry_only.pt
    explorer.ml.evaluate.evaluate(catalog, name, write=True, figures_dir=...)
                                                        -> evaluation.json, MODEL_CARD.md, PNGs
    explorer.ml.registry.load_models(name)              -> ModelBundle (checksums verified)
    bundle.predict(flux, z, spec_norm, mag_total, mag_fiber) -> IRPosterior

Modules: :mod:`.encoder` (spender autoencoder with configurable widths, spender checkpoints),
:mod:`.data` (inputs, targets, scaler), :mod:`.predictor` (full-covariance deep ensemble,
censored likelihood, :class:`~.predictor.IRPosterior`), :mod:`.properties`,
:mod:`.baselines`, :mod:`.evaluate`, :mod:`.registry`, :mod:`.model_card`,
:mod:`.throughput`, :mod:`.toy` (a catalog with a planted relation for tests).
"""
