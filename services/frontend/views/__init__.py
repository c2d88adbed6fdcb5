"""What each page draws, as functions of the session's wiring (``bootstrap.Wiring``)."""
