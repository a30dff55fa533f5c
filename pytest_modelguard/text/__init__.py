"""Text subjects: identity lexicons and swaps, encoders and association tests, token
attributions. Loaded only when a text gate runs (nothing here is imported by the plugin)."""

from pytest_modelguard.text.encoders import Encoder

__all__ = ["Encoder"]
