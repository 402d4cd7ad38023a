"""Projections: rules applied to a parameter's suggested value before it is written."""

from opto.trace.projections.code_projections import BlackCodeFormatter, DocstringProjection
from opto.trace.projections.projections import Projection

__all__ = ["BlackCodeFormatter", "DocstringProjection", "Projection"]
