"""The training service: data in, a calibrated multi-label model out (DESIGN §2, §3, §7).

Data: ``data`` (reading, validating, deduplicating), ``splits`` (held-out and validation rows by
text hash), ``sources`` (given paths, Kaggle, the starter set).
"""
