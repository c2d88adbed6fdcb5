"""The dashboard (`toxic serve dashboard`): a Streamlit page over the monitoring's rollups."""
