"""The training service: data in, a calibrated multi-label model out (DESIGN §2, §3, §7).

Data: ``data`` (reading, validating, deduplicating), ``splits`` (held-out and validation rows by
text hash), ``sources`` (given paths, Kaggle, the starter set).

Model: ``ngrams`` and ``features`` (hashed word and character n-gram TF-IDF), ``heads`` (the
per-label heads and their stacking), ``model`` (ToxicityModel, fit_model, refit_model),
``calibration`` (Platt scaling, calibration error, thresholds), ``selection`` (candidates and
the choice on validation rows), ``quality`` (metrics and the drift baseline as contract
objects), ``artifact`` (skops files checked by sha256).
"""
