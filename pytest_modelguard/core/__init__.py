"""The core: verdicts, datasets, statistics, group counts, seeds and budgets.

Knows nothing of pytest, the checks or the report; everything else may import it.
"""
