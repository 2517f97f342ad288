"""Comparing pipelines: accuracy, CPU speed and size on one corpus."""

from .compare import PipelineReport, compare_pipelines, markdown_table, plot_reports

__all__ = ["PipelineReport", "compare_pipelines", "markdown_table", "plot_reports"]
