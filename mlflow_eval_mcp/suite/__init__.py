"""Evaluation suites: the directory layout, its task state, and the steps that fill it."""
