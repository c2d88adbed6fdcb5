"""Page script: Score a CSV of comments (drawn by ``services.frontend.views.batch``)."""

from __future__ import annotations

from services.frontend.bootstrap import wiring
from services.frontend.views.batch import render

render(wiring())
