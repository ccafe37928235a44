"""Docker is not on these machines, so docker-compose.yml is checked against the code instead of run."""

from pathlib import Path

import yaml

from settings import Settings
from orchestration import queues

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
APP_SERVICES = {name: svc for name, svc in COMPOSE["services"].items() if svc.get("image") == "taxpractice:latest"}
# Variables the third-party images read themselves, not our Settings.
FOREIGN_VARIABLES = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}


def test_every_queue_has_exactly_one_worker_service():
    served = []
    for name, service in APP_SERVICES.items():
        command = service.get("command", [])
        if "worker.py" in command:
            served += [command[i + 1] for i, word in enumerate(command) if word == "--queue"]
            assert name == "worker-" + "-".join(command[i + 1] for i, w in enumerate(command) if w == "--queue")
    assert sorted(served) == sorted(queues.ALL)


def test_app_variables_are_settings_the_code_reads():
    fields = {name.upper() for name in Settings.model_fields}
    for name, service in APP_SERVICES.items():
        unknown = set(service["environment"]) - fields - FOREIGN_VARIABLES
        assert not unknown, f"{name} sets variables no setting reads: {sorted(unknown)}"


def test_production_secrets_are_not_left_at_development_defaults():
    environment = APP_SERVICES["api"]["environment"]
    assert environment["APP_ENV"] == "production"
    for secret in ("SSN_ENCRYPTION_KEY", "TEMPORAL_PAYLOAD_KEYS", "STRIPE_WEBHOOK_SECRET", "JWT_PRIVATE_KEY_PATH",
                   "IDEMPOTENCY_HASH_KEY"):
        assert secret in environment


def test_api_and_migration_commands_point_at_real_entry_points():
    api = APP_SERVICES["api"]["command"]
    module, _, factory = api[api.index("uvicorn") + 1].partition(":")
    assert getattr(__import__(module, fromlist=[factory]), factory)
    assert "--factory" in api
    assert APP_SERVICES["migrate"]["command"] == ["taxpractice", "migrate"]
    assert (ROOT / "worker.py").exists()


def test_dockerfile_copies_every_package_the_code_needs():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("api", "orchestration", "activities", "domain", "integrations", "workflows", "migrations", "cli",
                    "observability"):
        assert f"COPY {package} ./{package}" in dockerfile


def test_only_the_api_is_published_and_the_stores_are_internal():
    """Temporal's gRPC port, Postgres and the S3 store are reachable from the app's containers only (issue 13):
    on a network without a route out, publishing nothing; Temporal UI on the host's loopback only."""
    services = COMPOSE["services"]
    assert COMPOSE["networks"]["internal"]["internal"] is True
    for name in ("postgres", "temporal", "minio"):
        assert services[name]["networks"] == ["internal"] and "ports" not in services[name], name
    assert services["temporal-ui"]["ports"] == ["127.0.0.1:8233:8080"]
    published = {name for name, service in services.items() if service.get("ports")}
    # Operators' tools on the host's loopback only (tests/operations/test_dashboards.py).
    assert published == {"api", "temporal-ui", "prometheus", "grafana"}
    for name in ("prometheus", "grafana"):
        assert all(port.startswith("127.0.0.1:") for port in services[name]["ports"]), name


def test_the_app_logs_in_as_its_own_role_and_only_the_migration_job_as_the_owner():
    """Issue 13, medium 7: the API and workers cannot reach the owner's rights (and so the audit log's trigger)
    even with arbitrary SQL; the owner's URL is the migration job's alone."""
    owner = COMPOSE["services"]["postgres"]["environment"]["POSTGRES_USER"]
    for name, service in APP_SERVICES.items():
        environment = service["environment"]
        assert not environment["DATABASE_URL"].split("://", 1)[1].startswith(f"{owner}:"), name
        assert ("MIGRATION_DATABASE_URL" in environment) == (name == "migrate"), name
    assert APP_SERVICES["migrate"]["environment"]["MIGRATION_DATABASE_URL"].split("://", 1)[1].startswith(f"{owner}:")
    init = COMPOSE["services"]["postgres"]["volumes"][1].split(":")[0]
    script = (ROOT / init / "10-app-login.sh").read_text()
    assert "IN ROLE taxpractice_app" in script
    assert "taxpractice_api:" in APP_SERVICES["api"]["environment"]["DATABASE_URL"]


def test_postgres_takes_every_app_process_at_its_full_pool_and_room_for_temporal():
    """Pools are kept, not closed after a burst (domain/db.make_engine): the app's processes at their full pool
    must leave Postgres room for Temporal's server and a few replicas more."""
    command = COMPOSE["services"]["postgres"]["command"]
    max_connections = int(next(arg.split("=", 1)[1] for arg in command if arg.startswith("max_connections=")))
    pools = sum(int(service["environment"].get("DB_POOL_SIZE", Settings.model_fields["db_pool_size"].default))
                for service in APP_SERVICES.values() if service.get("command", [None])[0] in ("uvicorn", "python"))
    assert max_connections >= pools + 100, (max_connections, pools)
