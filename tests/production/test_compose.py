"""docker-compose.yml, the Dockerfile and the proxy's routes, checked without a Docker engine:
the Compose Specification's JSON Schema, then what the schema cannot know (every command is a
real `dbp` command, every variable a real setting, no secret inline, health checks, the
migration step, the scaling, the proxy sending each route to the role that serves it)."""

from __future__ import annotations

import json
import re

import pytest
from compose_testkit import COMPOSE_FILE, REPO, SCHEMA_FILE, environment, load
from jsonschema import Draft201909Validator
from starlette.routing import BaseRoute
from typer.testing import CliRunner

from service import roles
from service.app import ROUTERS
from service.cli import app as cli_app
from service.settings import FILE_SUFFIX, Settings

SECRET_WORDS = re.compile(r"KEY|PASSWORD|SECRET|TOKEN")
ALIASES = {"DATABASE_URL", "CHAIN_RPC_URL"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return load()


def dbp_services(compose: dict) -> dict[str, dict]:
    return {n: s for n, s in compose["services"].items() if s.get("image") == "dbp:latest"}


def test_valid_against_the_compose_specification(compose):
    schema = json.loads(SCHEMA_FILE.read_text())
    Draft201909Validator.check_schema(schema)
    errors = sorted(Draft201909Validator(schema).iter_errors(compose), key=lambda e: e.path)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_the_schema_check_catches_a_broken_file(compose):
    """The validator is not vacuous: a typo in a key is refused."""
    schema = json.loads(SCHEMA_FILE.read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["issuer"]["helthcheck"] = broken["services"]["issuer"].pop("healthcheck")
    assert list(Draft201909Validator(schema).iter_errors(broken))


def test_the_services_the_issue_asks_for(compose):
    names = set(compose["services"])
    wanted = {"issuer", "verifier", "resolver", "anchor-listener", "postgres", "anvil", "migrate"}
    assert wanted <= names
    assert compose["services"]["verifier"]["deploy"]["replicas"] >= 2
    assert compose["services"]["resolver"]["deploy"]["replicas"] >= 2
    assert compose["services"]["postgres"]["volumes"]


def _parses(args: list[str]) -> tuple[int, str]:
    """`dbp ARGS --help`: exit 0 only when every command and option name exists (unknown ones
    stop the parser before --help answers)."""
    result = CliRunner().invoke(cli_app, [*args, "--help"])
    return result.exit_code, result.output


def test_every_command_is_a_real_dbp_command(compose):
    services = dbp_services(compose)
    assert {"migrate", "issuer", "verifier", "resolver", "anchor-worker", "anchor-listener"} <= set(
        services
    )
    for name, service in services.items():
        command = service["command"]
        code, output = _parses(command)
        assert code == 0, (name, output)
        if command[0] == "serve":
            assert command[command.index("--role") + 1] == name
            assert command[command.index("--port") + 1] == "8000"


def test_a_wrong_command_would_be_caught():
    assert _parses(["serve", "--rolle", "issuer"])[0] == 2
    assert _parses(["anchor", "listener"])[0] == 2


def test_every_variable_is_a_setting(compose):
    fields = {name.upper() for name in Settings.model_fields}
    for name, service in dbp_services(compose).items():
        for key in environment(service):
            setting = key.removesuffix(FILE_SUFFIX).removeprefix("DBP_")
            assert key.startswith("DBP_") or key in ALIASES, (name, key)
            assert setting in fields, f"{name}: {key} is not a setting"
        # and the settings load from it (values valid), secrets as files left out
        env = {k: v for k, v in environment(service).items() if not k.endswith(FILE_SUFFIX)}
        settings = Settings(**{k.removeprefix("DBP_").lower(): v for k, v in env.items()})
        assert settings.chain_backend == "rpc" and not settings.migrate_on_start


def test_no_secret_inline(compose):
    for name, service in compose["services"].items():
        env = environment(service)
        for key, value in env.items():
            if SECRET_WORDS.search(key) and not key.endswith(FILE_SUFFIX):
                pytest.fail(f"{name}: {key} holds a secret inline; use {key}{FILE_SUFFIX}")
            if key.endswith(FILE_SUFFIX):
                assert value.startswith("/run/secrets/"), (name, key)
                assert value.removeprefix("/run/secrets/") in service["secrets"], (name, key)
            assert not re.search(r"0x[0-9a-fA-F]{64}", value), f"{name}: {key} holds a key"
    for secret in compose["secrets"].values():
        assert set(secret) == {"file"} and secret["file"].startswith("./secrets/")


def test_health_checks_and_the_migration_step(compose):
    for name, service in compose["services"].items():
        check = service.get("healthcheck")
        if name == "migrate":  # one-shot: it exits, and the others wait for that
            assert check == {"disable": True} and service["restart"] == "no"
            continue
        if name == "proxy":  # the proxy waits for healthy roles
            continue
        assert check and check["test"][0] == "CMD", name
    for name, service in dbp_services(compose).items():
        if name == "migrate":
            continue
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert service["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for role in roles.ROLES:
        assert compose["services"][role]["healthcheck"]["test"][-1].endswith("/readyz', timeout=3)")


def test_the_dockerfile():
    text = (REPO / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[[i for i, x in enumerate(lines) if x.startswith("FROM")][-1]].startswith(
        "FROM python:3.11-slim"
    )
    user = [x for x in lines if x.startswith("USER ")]
    assert user and user[-1] not in ("USER root", "USER 0")
    assert any(x.startswith("HEALTHCHECK") for x in lines)
    assert 'ENTRYPOINT ["dbp"]' in lines
    for line in lines:
        if line.startswith(("ENV", "ARG")) or line.startswith("DBP_"):
            assert not SECRET_WORDS.search(line), line
    assert "secrets" in (REPO / ".dockerignore").read_text().split()


# --- the proxy: deploy/Caddyfile sends every route to the role that serves it ------------------


Route = tuple[re.Pattern[str], frozenset[str] | None, str | None]


def caddy_routes() -> list[Route]:
    """(path regex, methods or None for any, upstream) in the order Caddy tries its handle
    blocks; upstream None: refused. Matchers are one line (`@name path_regexp RE`) or a block
    with `method` and `path_regexp`."""
    text = (REPO / "deploy" / "Caddyfile").read_text()
    matchers: dict[str, tuple[str, frozenset[str] | None]] = {
        name: (regex, None)
        for name, regex in re.findall(r"^\s*@(\w+) path_regexp (\S+)$", text, re.M)
    }
    for name, body in re.findall(r"^\s*@(\w+) \{\n(.*?)\n\s*\}", text, re.M | re.S):
        regex = re.search(r"^\s*path_regexp (\S+)$", body, re.M)
        methods = re.search(r"^\s*method (.+)$", body, re.M)
        assert regex, name
        matchers[name] = (regex.group(1), frozenset(methods.group(1).split()) if methods else None)
    out: list[Route] = []
    for name, body in re.findall(r"handle @(\w+) \{(.*?)\n\t\}", text, re.S):
        upstream = re.search(r"dynamic a (\w+)", body)
        regex, methods = matchers[name]
        out.append((re.compile(regex), methods, upstream.group(1) if upstream else None))
    fallback = re.search(r"handle \{.*?dynamic a (\w+)", text, re.S)
    assert fallback
    out.append((re.compile(".*"), None, fallback.group(1)))
    return out


def sample_path(route: BaseRoute) -> str:
    path = route.path
    path = re.sub(r"\{item_path:path\}", "09520123456788/21/SN1", path)
    path = re.sub(r"\{\w+:path\}", "did:web:example.com", path)
    return re.sub(r"\{\w+\}", "x1", path)


def upstream_for(routes: list[Route], path: str, method: str = "GET") -> str | None:
    for regex, methods, upstream in routes:
        if regex.search(path) and (methods is None or method in methods):
            return upstream
    raise AssertionError(path)


def test_the_proxy_routes_every_path_to_its_role():
    routes = caddy_routes()
    checked = 0
    for router, owner in ROUTERS:
        if owner == roles.BACKUP:
            continue  # another organisation runs the backup, behind its own proxy
        for route in router.routes:
            path = sample_path(route)
            for method in getattr(route, "methods", None) or {"GET"}:
                got = upstream_for(routes, path, method)
                assert got == owner, f"{method} {path} should go to {owner}, not {got}"
                checked += 1
    assert checked >= 30
    assert upstream_for(routes, "/metrics") is None
    assert upstream_for(routes, "/readyz") is None


def test_one_path_two_roles_by_method():
    # the documents of a battery: read from the resolver, uploaded to the issuer
    routes = caddy_routes()
    assert upstream_for(routes, "/batteries/x1/documents", "GET") == "resolver"
    assert upstream_for(routes, "/batteries/x1/documents", "POST") == "issuer"


def test_the_compose_file_mounts_the_caddyfile(compose):
    volumes = compose["services"]["proxy"]["volumes"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in volumes
    assert COMPOSE_FILE.parent.joinpath("deploy", "Caddyfile").exists()
