"""Browser tier: headless Chromium (Debian's, at /usr/bin/chromium) against the Streamlit apps."""
