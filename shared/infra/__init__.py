"""The infrastructure spec (DESIGN §4): topic, queues, tables and bucket, defined once in code.

``spec`` names everything from the deployment prefix; ``apply.ensure`` makes AWS match it;
``replicas`` manages the per-replica API queues; ``render`` shows the spec.
"""

from shared.infra.apply import ensure
from shared.infra.changes import Action, Change, summarize
from shared.infra.render import render_text, spec_as_dict
from shared.infra.replicas import (
    LiveReplica,
    ReplicaQueue,
    create_replica_queue,
    gc,
    heartbeat,
    live_replicas,
    remove_replica_queue,
)
from shared.infra.spec import BucketSpec, IndexSpec, InfraSpec, QueueSpec, TableSpec, TopicSpec

__all__ = [
    "Action",
    "BucketSpec",
    "Change",
    "IndexSpec",
    "InfraSpec",
    "LiveReplica",
    "QueueSpec",
    "ReplicaQueue",
    "TableSpec",
    "TopicSpec",
    "create_replica_queue",
    "ensure",
    "gc",
    "heartbeat",
    "live_replicas",
    "remove_replica_queue",
    "render_text",
    "spec_as_dict",
    "summarize",
]
