"""Streamlit pages and widgets. No training logic lives here: pages start jobs and read the store."""
