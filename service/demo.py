"""Demo data for `make run`: an operator whose token is kept in DBP_DATA_DIR/demo.json, and a few
batteries (the bundled EV, LMT and stationary examples, in that order, also listed in demo.json)
with issued passports."""

from __future__ import annotations

import json

from rich.console import Console
from sqlmodel import select

from infra.files import private_dir, write_private
from issuer import batteries, operators, passports
from issuer.config import IssuerConfig
from issuer.errors import UnknownOperator
from issuer.tables import Battery
from service.db import make_engine, migrate, session_scope
from service.settings import Settings
from vocab.examples import load_example
from vocab.gs1 import parse_item_uri

DEMO_OPERATOR = "demo-manufacturer"
DEMO_EXAMPLES = ("ev", "lmt", "stationary")


class DemoDataElsewhere(Exception):
    """The data directory's demo operator was made for another public URL: its did:web names
    that host, and the credentials it signed cannot move to a new DID."""


def seed_batteries(session, config: IssuerConfig, operator) -> list[Battery]:
    """Register each example battery once and issue its passport; returns the batteries."""
    out = []
    for name in DEMO_EXAMPLES:
        data = load_example(name)
        key = parse_item_uri(data.pop("batteryIdentifier"))
        data.pop("passportId")
        data.pop("passportVersion")
        battery = session.exec(
            select(Battery).where(Battery.gtin == key.gtin, Battery.serial == key.serial)
        ).first()
        if battery is None:
            battery = batteries.register(session, config, operator, key)
            passports.issue(session, config, operator, battery.id, data)
        out.append(battery)
    return out


def seed_demo(settings: Settings) -> dict:
    """Create the demo operator once; print how to use it. Returns what demo.json holds."""
    path = settings.data_dir / "demo.json"
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    master_key = settings.load_keystore()
    with session_scope(engine) as session:
        operators.ensure_instance(
            session, did_web_base=settings.did_web_base, master_key=master_key
        )
        existing = operators.by_did(
            session, operators.operator_did(settings.did_web_base, DEMO_OPERATOR)
        )
        if existing is None:
            try:
                named = operators.by_name(session, DEMO_OPERATOR)
            except UnknownOperator:
                named = None
            if named is not None:
                raise DemoDataElsewhere(
                    f"the demo data in {settings.data_dir} belongs to {named.did}, not to "
                    f"{settings.public_url}; run with the host and port it was made for, or with "
                    "another DBP_DATA_DIR (or remove that directory to start over)"
                )
        if existing is None or not path.exists():
            if existing is None:
                operator, token = operators.create_operator(
                    session,
                    name=DEMO_OPERATOR,
                    did_method="web",
                    did_web_base=settings.did_web_base,
                    master_key=master_key,
                )
            else:  # demo.json was removed: the old token cannot be shown again, so issue a new one
                operator, token = existing, operators.new_token(session, existing)
            demo = {"operator": operator.name, "did": operator.did, "token": token}
            private_dir(path.parent)
            write_private(path, json.dumps(demo, indent=2))  # it holds an operator token
        operator = operators.by_name(session, DEMO_OPERATOR)
        config = IssuerConfig(settings.public_url, settings.did_web_base, master_key)
        demo_batteries = [
            (b.id, b.item_uri, b.category) for b in seed_batteries(session, config, operator)
        ]
    engine.dispose()
    demo = json.loads(path.read_text())
    console = Console()
    console.rule("dbp demo")
    console.print(f"operator  {demo['operator']}  {demo['did']}")
    console.print(f"token     {demo['token']}  (also in {path})")
    for battery_id, item_uri, category in demo_batteries:
        console.print(f"battery   {category:<10} {item_uri}")
        console.print(
            f"          passport view: GET {settings.public_url}/batteries/{battery_id}/passport"
        )
    console.print(f"API docs  {settings.public_url}/docs")
    console.rule()
    # Kept in demo.json too, so the README's commands find the batteries (`batteries[1].id`).
    demo["batteries"] = [{"id": i, "itemUri": u, "category": c} for i, u, c in demo_batteries]
    path.write_text(json.dumps(demo, indent=2))
    return demo
