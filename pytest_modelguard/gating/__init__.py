"""What changes a verdict's status after its check decided: a baseline to compare
with (:mod:`.baseline`) and written, expiring waivers (:mod:`.waivers`).

Knows nothing of pytest: :mod:`pytest_modelguard.plugin.gating` loads both from the
options and applies them on each process.
"""
