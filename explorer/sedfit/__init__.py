"""The SED-fitting comparator: what a conventional, separable SED fit (bagpipes) predicts for W1-W4.

bagpipes (GPL-3, the optional ``simulate`` extra) is imported only inside the functions that use
it; without it the package stays BSD-3 and everything but the fit itself (reading fit tables,
comparing, the dashboard overlay) works.

    explorer.sedfit.data.fit_data_from_catalog(cat, i)  -> FitData (binned spectrum, total ugriz)
    explorer.sedfit.fit.fit_galaxy(data, settings)      -> FitResult (WISE draws, SFR, q_PAH)
    explorer.sedfit.batch.run_batch(...)                 -> resumable per-galaxy fits, combined table
    explorer.sedfit.compare.compare(...)                 -> ours vs the SED fit, side by side
"""
