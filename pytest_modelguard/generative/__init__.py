"""Generative language models as subjects: the ``Generator`` and its judge-free gates.

Every gate here decides without another model as a judge: canaries and detectors decide
leaks, likelihoods decide preferences, an embedding model the user pins decides
semantic change. ``subject`` is free of numpy so that the public name loads cheaply.
"""

from pytest_modelguard.generative.subject import Generator, is_generator

__all__ = ["Generator", "is_generator"]
