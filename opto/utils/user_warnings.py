"""Warnings that point at the user's line, not at the opto function that noticed the problem.

A fixed ``stacklevel`` is right for one call path only: the same check reached through a
trainer, a bundle or a thread pool sits at a different depth. `warn_user` skips every frame
that belongs to the opto package, so the warning names the first line outside it (the user's
script, notebook cell or test). Python 3.12+ does this itself (``skip_file_prefixes``); on
older versions the frames are walked here.
"""

from __future__ import annotations

import inspect
import os
import sys
import warnings

OPTO_DIRECTORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
"""Frames whose file is under this directory belong to opto and are skipped."""


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue ``warnings.warn(message, category)`` attributed to the nearest caller outside opto.

    Args:
        message: the text; it should say what happened and what to do.
        category: the warning class (``UserWarning`` by default), so users can filter it.
    """
    if sys.version_info >= (3, 12):
        warnings.warn(message, category, skip_file_prefixes=(OPTO_DIRECTORY,))
        return
    warnings.warn(message, category, stacklevel=_first_level_outside_opto())


def _first_level_outside_opto() -> int:
    """The ``stacklevel`` (as seen from `warn_user`'s call to ``warnings.warn``) of the first
    frame that is not opto's."""
    level = 2  # 1 is warn_user itself, 2 its caller
    here = inspect.currentframe()
    frame = here.f_back.f_back if here is not None and here.f_back is not None else None
    del here  # a frame held in its own locals would be a reference cycle
    while frame is not None and frame.f_code.co_filename.startswith(OPTO_DIRECTORY):
        frame = frame.f_back
        level += 1
    return level
