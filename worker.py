"""Temporal workers: `python worker.py [--queue NAME …]` (default: every queue).

Each queue gets its own Worker, so production runs one process per queue and scales each on its own
(see docker-compose.yml). Every provider is built here once from Settings (integrations/build.py) and
injected into the activity classes; their activity methods are collected, not listed (activities/collect.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

import domain.models  # noqa: F401  (registers every mapper, so foreign keys resolve)
from activities.audit_chain import AuditChainActivities
from activities.audit_export import AuditExportActivities
from activities.collect import activity_methods
from activities.document import DocumentActivities
from activities.efile import EfileActivities
from activities.identity import IdentityActivities
from activities.esign import ESignActivities
from activities.estimated_payment import EstimatedPaymentActivities
from activities.idempotency import IdempotencyActivities
from activities.invoice import InvoiceActivities
from activities.tax_return import TaxReturnActivities
from activities.outbox import OutboxActivities
from activities.portal import PortalActivities
from activities.webhook import WebhookActivities
from activities.webhook_retention import WebhookRetentionActivities
from domain.crypto import FieldCipher
from domain.db import make_engine, make_sessionmaker
from integrations.build import Providers, build_field_cipher, build_providers, build_webhook_sender
from process_gc import settle_garbage_collector
from settings import Settings, get_settings
from orchestration import queues
from orchestration.connect import connect
from orchestration.audit_chain import ensure_check_scheduled
from orchestration.idempotency import ensure_purge_running
from orchestration.outbox import ensure_relay_running
from workflows.audit_chain_check import AuditChainCheckWorkflow
from orchestration.webhook import ensure_fan_out_running
from orchestration.sandbox_runner import LeanSandboxRunner
from orchestration.webhook_retention import ensure_prune_scheduled
from observability.tracing import instrument_engine
from observability.worker_telemetry import configure_worker_process, worker_runtime
from workflows.audit_export import AuditExportWorkflow
from workflows.consent import ConsentWorkflow
from workflows.engagement import EngagementWorkflow
from workflows.form_8879 import Form8879Workflow
from workflows.document import DocumentProcessingWorkflow, SmartVaultImportWorkflow
from workflows.efile import EfileTransmissionWorkflow
from workflows.identity import IdentityVerificationWorkflow
from workflows.estimated_payment import EstimatedPaymentScheduleWorkflow
from workflows.idempotency_purge import IdempotencyPurgeWorkflow
from workflows.invoice import InvoiceWorkflow
from workflows.tax_return import TaxReturnWorkflow
from workflows.outbox_relay import OutboxRelayWorkflow
from workflows.portal import PortalSyncWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow
from workflows.webhook_event_prune import WebhookEventPruneWorkflow
from workflows.webhook_fan_out import WebhookFanOutWorkflow


@dataclass
class WorkerDependencies:
    """What the activity classes are built from: the database, every provider (integrations/build.py), and
    the settings, read here only: the activity classes get providers and plain values, never Settings."""

    settings: Settings
    sessionmaker: object
    providers: Providers
    cipher: FieldCipher

    @classmethod
    def from_settings(cls, settings: Settings) -> "WorkerDependencies":
        return cls(
            settings=settings,
            # No pre-ping: Temporal retries an activity, so a connection that died with a Postgres restart
            # costs one failed attempt (SQLAlchemy then replaces every pooled connection) instead of a ping
            # round trip before every activity's work.
            sessionmaker=make_sessionmaker(make_engine(settings.database_url, settings.db_pool_size,
                                                       pre_ping=False, role=settings.database_app_role)),
            providers=build_providers(settings),
            cipher=build_field_cipher(settings),
        )


def tax_return_activities(deps: WorkerDependencies) -> list:
    return activity_methods(TaxReturnActivities(deps.sessionmaker, deps.providers.notifications,
                                                deps.providers.analyzer))


def efile_activities(deps: WorkerDependencies) -> list:
    return activity_methods(EfileActivities(deps.sessionmaker, deps.providers.efile_transmitter,
                                            deps.providers.notifications, deps.settings.efin))


def webhook_activities(deps: WorkerDependencies) -> WebhookActivities:
    settings = deps.settings
    return WebhookActivities(deps.sessionmaker, deps.cipher, build_webhook_sender(settings), deps.providers.mailer,
                             settings.api_base_url, settings.outbound_webhook_max_in_flight)


def queue_contents(deps: WorkerDependencies) -> dict[str, tuple[list[type], list]]:
    """What runs on each task queue: its workflows, and the activity classes (built with their providers)
    whose every activity method it runs (activities/collect.py finds them)."""
    settings, providers, sessionmaker = deps.settings, deps.providers, deps.sessionmaker
    return {
        queues.ADMIN: ([AuditExportWorkflow, OutboxRelayWorkflow, IdempotencyPurgeWorkflow,
                        AuditChainCheckWorkflow, WebhookEventPruneWorkflow], activity_methods(
            AuditExportActivities(sessionmaker, providers.storage),
            WebhookRetentionActivities(sessionmaker, timedelta(days=settings.outbound_webhook_event_retention_days)),
            AuditChainActivities(sessionmaker, providers.storage),
            OutboxActivities(sessionmaker, providers.mailer, deps.cipher),
            IdempotencyActivities(sessionmaker, timedelta(hours=settings.idempotency_ttl_hours)))),
        queues.DOCUMENTS: ([DocumentProcessingWorkflow, SmartVaultImportWorkflow], activity_methods(
            DocumentActivities(sessionmaker, providers.storage, providers.document_processing,
                               providers.document_vault, settings.extraction_review_threshold,
                               settings.document_max_bytes, settings.pdf_limits))),
        queues.BILLING: ([InvoiceWorkflow, EstimatedPaymentScheduleWorkflow], activity_methods(
            InvoiceActivities(sessionmaker, providers.payments, providers.notifications, settings.stripe_currency,
                              settings.portal_base_url),
            EstimatedPaymentActivities(sessionmaker, providers.notifications))),
        queues.TAX_RETURN: ([TaxReturnWorkflow], tax_return_activities(deps)),
        queues.EFILE: ([EfileTransmissionWorkflow], efile_activities(deps)),
        queues.IDENTITY: ([IdentityVerificationWorkflow], activity_methods(
            IdentityActivities(sessionmaker, providers.notifications, providers.sms, providers.identity,
                               deps.cipher))),
        queues.SIGNATURES: ([ConsentWorkflow, EngagementWorkflow, Form8879Workflow], activity_methods(
            ESignActivities(sessionmaker, providers.esignature, providers.storage, providers.sealer))),
        queues.PORTAL: ([PortalSyncWorkflow], activity_methods(
            PortalActivities(sessionmaker, deps.cipher, providers.client_portal,
                             providers.storage, settings.data_region))),
        queues.WEBHOOKS: ([WebhookDeliveryWorkflow, WebhookFanOutWorkflow], activity_methods(
            webhook_activities(deps))),
    }


def build_workers(client: Client, deps: WorkerDependencies, names: list[str]) -> list[Worker]:
    contents = queue_contents(deps)
    # A webhooks worker's activities wait on receivers, not on this machine: many may be in flight at once.
    # The first attempt of a delivery is a local activity (workflows/webhook_delivery.py): as many slots for those.
    webhook_slots = deps.settings.outbound_webhook_worker_slots
    slots = {queues.WEBHOOKS: {"max_concurrent_activities": webhook_slots,
                               "max_concurrent_local_activities": webhook_slots}}
    return [Worker(client, task_queue=name, workflows=contents[name][0], activities=contents[name][1],
                   max_cached_workflows=deps.settings.workflow_cache_size, workflow_runner=LeanSandboxRunner(),
                   **slots.get(name, {}))
            for name in names]


async def run(names: list[str]) -> None:
    settings = get_settings()
    # Operations (docs/operations.md): the SDK's metrics on their own port, logs, traces down to SQL.
    configure_worker_process(settings.logs_as_json, getattr(logging, settings.log_level),
                             settings.otel_exporter_otlp_endpoint, settings.version)
    client = await connect(settings, runtime=worker_runtime(settings.metrics_host, settings.worker_metrics_port))
    deps = WorkerDependencies.from_settings(settings)
    instrument_engine(deps.sessionmaker.kw["bind"])
    workers = build_workers(client, deps, names)
    if queues.ADMIN in names:
        await ensure_relay_running(client)
        await ensure_purge_running(client)
        await ensure_check_scheduled(client, timedelta(minutes=settings.audit_chain_check_every_minutes))
        await ensure_prune_scheduled(client)
    if queues.WEBHOOKS in names:
        await ensure_fan_out_running(client)
    settle_garbage_collector()  # everything is built; the workers start right after the "polling" line
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    logging.info("workers polling %s on %s", ", ".join(names), settings.temporal_address)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    await stop.wait()
    await asyncio.gather(*(w.shutdown() for w in workers))
    await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queue", action="append", choices=queues.ALL,
                        help="task queue to poll (repeatable; default: all)")
    args = parser.parse_args(argv)
    asyncio.run(run(args.queue or list(queues.ALL)))
    # The temporalio runtime can abort at interpreter exit after a clean shutdown (sdk-python issue 300).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
