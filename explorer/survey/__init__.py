"""Survey scale: predict and attribute whole catalogs as Dask tasks, with HATS/LSDB in and out.

The in-process verbs (``predict``, ``attribute --sample``) handle a catalog in one process. This
package cuts the same work into *partitions* (row ranges of an HDF5 catalog, or the HEALPix
pixels of a HATS catalog of latents) and runs one task per partition on a
``dask.distributed`` cluster: a local one (``--workers N``: processes with one thread each) or
an existing one (``--scheduler ADDRESS``: SLURM through dask-jobqueue, Kubernetes, ...).

- :mod:`.sources`: the partitions of an input and a catalog-like view of one partition, read
  lazily (only its rows) on the worker;
- :mod:`.cluster`: the client (local cluster or existing scheduler) and per-worker facts (peak
  memory, the model cache);
- :mod:`.predict`: the partition task and the run (resume, faults, summary, report);
- :mod:`.output`: per-partition Parquet files (temporary name, then renamed), the final table
  or HATS catalog (``lsdb.from_dataframe(...).write_catalog``);
- :mod:`.crossmatch`: ``crossmatch-wise`` (``lsdb`` crossmatch with an AllWISE HATS catalog);
- :mod:`.attribute`: ``attribute --sample`` as one task per chunk of galaxies.

``dask``, ``distributed``, ``lsdb`` and ``hats`` come with the ``survey`` extra
(``pip install -e ".[survey]"``) and are imported only where used. This is the orchestration
layer: :mod:`explorer.ml` and :mod:`explorer.attribution` never import it.
"""
