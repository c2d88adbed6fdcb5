"""Page script: The moderators' review queue (drawn by ``services.frontend.views.review``)."""

from __future__ import annotations

from services.frontend.bootstrap import wiring
from services.frontend.views.review import render

render(wiring())
