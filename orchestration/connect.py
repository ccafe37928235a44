"""One way to connect to Temporal, shared by the API, the workers, the CLI and the tests: always with the
pydantic data converter (the default one raises on Decimal and date) and every payload sealed with the
deployment's keys (orchestration/payload_codec.py)."""

from temporalio.client import Client, HeaderCodecBehavior
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from orchestration.payload_codec import SealedPayloadCodec, parse_keys, sealed_data_converter
from settings import Settings

TemporalClient = Client


def payload_codec(settings: Settings) -> SealedPayloadCodec:
    """The codec alone (the codec endpoint for Temporal UI); clients get it inside their data converter."""
    return SealedPayloadCodec(parse_keys(settings.temporal_payload_keys), settings.temporal_accept_unsealed_payloads)


def tls_config(settings: Settings) -> TLSConfig | bool:
    """mTLS when a client certificate is set; TLS without one when only an API key is (Temporal Cloud needs TLS
    for API-key auth); plain gRPC otherwise (the embedded dev server)."""
    if settings.temporal_tls_cert_path:
        return TLSConfig(
            client_cert=settings.temporal_tls_cert_path.read_bytes(),
            client_private_key=settings.temporal_tls_key_path.read_bytes() if settings.temporal_tls_key_path else None,
            server_root_ca_cert=settings.temporal_tls_ca_path.read_bytes() if settings.temporal_tls_ca_path else None,
            domain=settings.temporal_tls_server_name)
    return bool(settings.temporal_api_key)


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """`runtime`: the workers' own, which serves the SDK's Prometheus metrics (worker.py); default otherwise.
    The tracing interceptor carries the caller's trace into every workflow and activity it starts or signals,
    and a worker built on this client continues it (observability/tracing.py). It carries it in Temporal headers,
    which are sealed by the codec like every other payload (HeaderCodecBehavior.CODEC): nothing in a history is in
    clear, not even a trace id."""
    return await Client.connect(
        settings.temporal_address, namespace=settings.temporal_namespace, tls=tls_config(settings),
        api_key=settings.temporal_api_key, interceptors=[TracingInterceptor()], runtime=runtime,
        header_codec_behavior=HeaderCodecBehavior.CODEC,
        data_converter=sealed_data_converter(settings.temporal_payload_keys,
                                             settings.temporal_accept_unsealed_payloads))


# What a failed call to Temporal raises, and the statuses that mean "out of reach" (a 503 to the API's caller:
# the call did not get through, so it changed nothing).
TemporalError = RPCError
UNREACHABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})


def is_unreachable(exc: RPCError) -> bool:
    return exc.status in UNREACHABLE


async def signal_if_running(client: Client, workflow_id: str, signal: str, arg) -> bool:
    """Signal a workflow; False when none runs under that id (never started, or ended), which is no error for a
    message about an entity whose workflow has nothing left to hear (a draft invoice, a deleted return)."""
    try:
        await client.get_workflow_handle(workflow_id).signal(signal, arg)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
