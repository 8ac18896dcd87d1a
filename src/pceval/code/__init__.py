"""Qualitative coding workflow and agreement."""
