"""The frontend (`toxic serve frontend`): a Streamlit app that talks to the API over HTTP only."""
