"""The toxicity model as every scoring process needs it: features, the model, its file format.

Training fits it (``services/training``); the API and the CLI load and score it. A model file holds
these classes by their full names, which is why they live here and not with the training service.
"""
