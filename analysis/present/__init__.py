"""Presentation of a study's results: the HTML report, its plots, terminal text and the
formatting of numbers and sentences.

Nothing here computes a statistic: these modules read :class:`analysis.result.StudyAnalysis`
and the tables of the statistics modules. The statistics never import this package at module
level (:mod:`analysis.claims` words its verdicts with :mod:`analysis.present.claims_text` when
it builds the table), and ``tests/analysis/test_imports.py`` fails on any import cycle in
``analysis/``. Nothing is imported here on purpose: plotly loads only when a report is written.
"""
