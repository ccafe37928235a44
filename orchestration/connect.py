"""One way to connect to Temporal, shared by the API, the workers, the CLI and the tests: always with the
pydantic data converter (the default one raises on Decimal and date) and every payload sealed with the
deployment's keys (orchestration/payload_codec.py)."""

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from orchestration.payload_codec import sealed_data_converter
from settings import Settings

TemporalClient = Client


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address, namespace=settings.temporal_namespace,
        data_converter=sealed_data_converter(settings.temporal_payload_keys,
                                             settings.temporal_accept_unsealed_payloads))


# What a failed call to Temporal raises, and the statuses that mean "out of reach" (a 503 to the API's caller:
# the call did not get through, so it changed nothing).
TemporalError = RPCError
UNREACHABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})


def is_unreachable(exc: RPCError) -> bool:
    return exc.status in UNREACHABLE
