"""One way to connect to Temporal, shared by the API, the workers, the CLI and the tests: always with the
pydantic data converter, because the default one raises on Decimal and date."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter


async def connect(address: str, namespace: str) -> Client:
    return await Client.connect(address, namespace=namespace, data_converter=pydantic_data_converter)
