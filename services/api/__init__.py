"""The API service: scores comments (native and Perspective-compatible), takes feedback."""
