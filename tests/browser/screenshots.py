"""Where the browser tests keep what they saw.

Always in the test's tmp folder; also in ``TOXIC_SCREENSHOTS_DIR`` when it is set, which is how
``docs/screenshots/`` is refreshed (``TOXIC_SCREENSHOTS_DIR=docs/screenshots make test``), so an
ordinary test run leaves the checkout as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["keep"]


def keep(shot: Path, name: str) -> Path | None:
    """Copy ``shot`` to ``$TOXIC_SCREENSHOTS_DIR/name`` when that is set; returns the copy."""
    folder = os.environ.get("TOXIC_SCREENSHOTS_DIR")
    if not folder:
        return None
    target = Path(folder) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, target)
    return target
