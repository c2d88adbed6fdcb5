"""``toxic up``: the whole system on this machine, no Docker and no AWS account needed.

Modules by role: ``command`` runs it end to end; ``settings`` holds its options; ``state`` is its
state folder; ``steps`` are the one-off start-up steps (infrastructure, restore, gc, the first
model, keys); ``children`` says how each process is started and when it is healthy;
``supervisor`` starts, watches, restarts and stops them; ``guard`` runs inside each child so no
process outlives ``toxic up``, even when it is killed with SIGKILL.

Kept free of imports: ``python -m services.up.guard`` starts once per child.
"""

__all__: list[str] = []
