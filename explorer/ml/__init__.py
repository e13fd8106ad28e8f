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
:mod:`.encoder_training` (its fidelity-loss training), :mod:`.data` (inputs, targets, scaler),
:mod:`.fit` (the shared training loops and target standardization), :mod:`.predictor`
(full-covariance deep ensemble, censored likelihood, :class:`~.predictor.IRPosterior`),
:mod:`.properties`, :mod:`.baselines`, :mod:`.ceiling`, :mod:`.evaluate` (metrics) and
:mod:`.evaluation_figures`, :mod:`.target` (the attribution target), :mod:`.registry`,
:mod:`.model_card`, :mod:`.domain` (out-of-domain scoring against the training set),
:mod:`.predict` (chunked batch predictions to FITS/CSV/Parquet/ECSV). Throughput benchmarks
live outside the package, in ``benchmarks/``.

Layering: this package imports only :mod:`explorer.catalog` and the base modules (constants,
errors, paths, jsonutil); the command line passes in what comes from the simulator or the
readers (scatter floors, real spectra), and the attribution engine takes the target module
by its contract (``tests/test_layers.py``). The toy catalog for tests is in
:mod:`explorer.testing.toy`.
"""
