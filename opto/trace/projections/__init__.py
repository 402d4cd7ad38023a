"""Projections: rules applied to a parameter's suggested value before it is written."""

from opto.trace.projections.code import BlackCodeFormatter, DocstringProjection
from opto.trace.projections.projection import Projection

__all__ = ["BlackCodeFormatter", "DocstringProjection", "Projection"]
