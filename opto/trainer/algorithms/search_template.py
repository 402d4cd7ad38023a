"""An earlier Trace import path of the search template (now ``opto.trainer.search_template``)."""

from opto.trainer.search_template import Samples, SearchTemplate

__all__ = ["Samples", "SearchTemplate"]
