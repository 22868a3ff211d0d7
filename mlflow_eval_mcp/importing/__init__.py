"""Importing agent logs and traces from other tools into MLflow traces."""
