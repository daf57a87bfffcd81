"""Segments: groups of members named by a CEL rule, a static list, or a built-in RFM or
lifecycle classification."""
