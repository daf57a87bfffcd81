"""Loyalty Engine: a self-hosted loyalty and retention engine for online stores."""

__version__ = "0.1.0"
