"""Run the API's process under cProfile and write its stats when it stops.

    python -m bench.profiled STATS_FILE

``bench.api_load --profile DIR`` starts its replicas this way. uvicorn raises the SIGTERM it
caught again once it has shut down, which would end the process before cProfile writes; here
that second SIGTERM exits through ``SystemExit`` instead, so the stats are written. cProfile
sees the event loop's thread only: time in worker threads (batch scoring) shows as waiting.
"""

from __future__ import annotations

import cProfile
import signal
import sys
from types import FrameType

from services.api.bootstrap import main as serve_api


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    stats = sys.argv[1]
    signal.signal(signal.SIGTERM, _exit)
    profile = cProfile.Profile()
    try:
        profile.runcall(serve_api)
    except SystemExit:
        pass
    finally:
        profile.dump_stats(stats)


if __name__ == "__main__":
    main()
