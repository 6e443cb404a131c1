"""Connecting to Ray: the cluster named by `address` (or RAY_ADDRESS), else a local one."""

from __future__ import annotations

import logging
import os

import ray

from cloudrec.cluster.options import NAMESPACE


def connect(address: str | None = None, num_cpus: int | None = None) -> None:
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    log_to_driver = os.environ.get("CLOUDREC_RAY_LOGS") == "1"
    if address:
        ray.init(address=address, namespace=NAMESPACE, logging_level=logging.WARNING,
                 log_to_driver=log_to_driver)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                 namespace=NAMESPACE, logging_level=logging.WARNING, log_to_driver=log_to_driver)
