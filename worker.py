"""Temporal workers: `python worker.py [--queue NAME …]` (default: every queue).

Each queue gets its own Worker, so production runs one process per queue and scales each on its own
(see docker-compose.yml). Activities receive their dependencies here, built once from Settings.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.worker import Worker

import domain.models  # noqa: F401  (registers every mapper, so foreign keys resolve)
from activities.audit_export import AuditExportActivities
from activities.document import DocumentActivities
from activities.estimated_payment import EstimatedPaymentActivities
from activities.invoice import InvoiceActivities
from activities.tax_return import TaxReturnActivities
from activities.outbox import OutboxActivities
from domain.db import make_engine, make_sessionmaker
from domain.tax_return.analysis import Analyzer, OfflineAnalyzer
from integrations.bedrock import BedrockAnalyzer
from integrations.mail import Mailer
from integrations.notify import Notifier
from integrations.payments import StripePayments
from integrations.storage import ObjectStore
from settings import Settings, get_settings
from orchestration import queues
from orchestration.connect import connect
from orchestration.outbox import ensure_relay_running
from workflows.audit_export import AuditExportWorkflow
from workflows.document import DocumentProcessingWorkflow, SmartVaultImportWorkflow
from workflows.estimated_payment import EstimatedPaymentScheduleWorkflow
from workflows.invoice import InvoiceWorkflow
from workflows.tax_return import TaxReturnWorkflow
from workflows.outbox_relay import OutboxRelayWorkflow


@dataclass
class WorkerDependencies:
    settings: Settings
    sessionmaker: object
    storage: ObjectStore
    mailer: Mailer

    @classmethod
    def from_settings(cls, settings: Settings) -> "WorkerDependencies":
        return cls(
            settings=settings,
            # No pre-ping: Temporal retries an activity, so a connection that died with a Postgres restart
            # costs one failed attempt (SQLAlchemy then replaces every pooled connection) instead of a ping
            # round trip before every activity's work.
            sessionmaker=make_sessionmaker(make_engine(settings.database_url, settings.db_pool_size,
                                                       pre_ping=False)),
            storage=ObjectStore(settings.s3_bucket, settings.s3_endpoint_url, settings.s3_region,
                                settings.aws_access_key_id, settings.aws_secret_access_key),
            mailer=Mailer(settings.smtp_host, settings.smtp_port, settings.mail_from),
        )


def build_analyzer(settings: Settings) -> Analyzer:
    if settings.ai_analyzer == "bedrock":
        return BedrockAnalyzer.from_settings(settings.bedrock_model_id, settings.bedrock_region,
                                             settings.bedrock_endpoint_url)
    return OfflineAnalyzer()


def tax_return_activities(deps: WorkerDependencies) -> list:
    acts = TaxReturnActivities(deps.sessionmaker, deps.mailer, build_analyzer(deps.settings))
    return [acts.record_transition, acts.mark_stuck, acts.send_reminder, acts.analyze, acts.fail_analysis]


def queue_contents(deps: WorkerDependencies) -> dict[str, tuple[list[type], list]]:
    """What runs on each task queue: its workflows and its activities (bound to their dependencies)."""
    audit_export = AuditExportActivities(deps.sessionmaker, deps.storage)
    document = DocumentActivities(deps.sessionmaker, deps.storage, deps.settings)
    notifier = Notifier(deps.mailer, deps.settings.sms_email_domain)
    invoice = InvoiceActivities(deps.sessionmaker, StripePayments.from_settings(deps.settings), notifier,
                                deps.settings.stripe_currency, deps.settings.portal_base_url)
    estimated_payment = EstimatedPaymentActivities(deps.sessionmaker, notifier)
    return {
        queues.ADMIN: ([AuditExportWorkflow, OutboxRelayWorkflow],
                       [audit_export.write_export, audit_export.mark_failed,
                        OutboxActivities(deps.sessionmaker, deps.mailer).relay_outbox]),
        queues.DOCUMENTS: ([DocumentProcessingWorkflow, SmartVaultImportWorkflow],
                           [document.classify, document.extract, document.send_to_sureprep,
                            document.notify_return, document.import_from_smartvault]),
        queues.BILLING: ([InvoiceWorkflow, EstimatedPaymentScheduleWorkflow], [
            invoice.create_payment_link, invoice.mark_sent, invoice.mail_invoice, invoice.apply_step,
            invoice.notify_payment_failed, invoice.current_status, invoice.expire_payment_link,
            estimated_payment.load_schedule, estimated_payment.send_reminder,
        ]),
        queues.TAX_RETURN: ([TaxReturnWorkflow], tax_return_activities(deps)),
    }


def build_workers(client: Client, deps: WorkerDependencies, names: list[str]) -> list[Worker]:
    contents = queue_contents(deps)
    return [Worker(client, task_queue=name, workflows=contents[name][0], activities=contents[name][1],
                   max_cached_workflows=deps.settings.workflow_cache_size)
            for name in names]


async def run(names: list[str]) -> None:
    settings = get_settings()
    client = await connect(settings)
    workers = build_workers(client, WorkerDependencies.from_settings(settings), names)
    if queues.ADMIN in names:
        await ensure_relay_running(client)
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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run(args.queue or list(queues.ALL)))
    # The temporalio runtime can abort at interpreter exit after a clean shutdown (sdk-python issue 300).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
