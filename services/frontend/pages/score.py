"""Page script: Score one comment (drawn by ``services.frontend.views.score``)."""

from __future__ import annotations

from services.frontend.bootstrap import wiring
from services.frontend.views.score import render

render(wiring())
