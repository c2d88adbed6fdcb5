"""Streamlit page scripts; each draws one view with the session's wiring."""
