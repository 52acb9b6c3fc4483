"""Cluster DNS (see server.py)."""
