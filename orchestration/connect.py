"""One way to connect to Temporal, shared by the API, the workers, the CLI and the tests: always with the
pydantic data converter, because the default one raises on Decimal and date."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode


TemporalClient = Client


async def connect(address: str, namespace: str) -> Client:
    return await Client.connect(address, namespace=namespace, data_converter=pydantic_data_converter)


# What a failed call to Temporal raises, and the statuses that mean "out of reach" (a 503 to the API's caller:
# the call did not get through, so it changed nothing).
TemporalError = RPCError
UNREACHABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})


def is_unreachable(exc: RPCError) -> bool:
    return exc.status in UNREACHABLE
