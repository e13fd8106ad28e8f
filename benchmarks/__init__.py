"""Speed and memory benchmarks (``python benchmarks/run.py --json``) and their helpers.

Not part of the installed package: run from the repository root, e.g.
``python -m benchmarks.app_bench --json`` (real browser), ``python -m benchmarks.attribution_bench``
(attribution engine on a stand-in model); ``benchmarks.throughput`` holds the model-speed hooks.
"""
