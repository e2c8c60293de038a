"""Amend's benchmarks: tooling that measures the product, kept out of the production packages."""
