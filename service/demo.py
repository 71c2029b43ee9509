"""Demo data for `make run`: an operator whose token is kept in DBP_DATA_DIR/demo.json."""

from __future__ import annotations

import json

from rich.console import Console

from issuer import operators
from service.db import make_engine, migrate, session_scope
from service.settings import Settings

DEMO_OPERATOR = "demo-manufacturer"


def seed_demo(settings: Settings) -> dict:
    """Create the demo operator once; print how to use it. Returns what demo.json holds."""
    path = settings.data_dir / "demo.json"
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    master_key = settings.load_master_key()
    with session_scope(engine) as session:
        operators.ensure_instance(
            session, did_web_base=settings.did_web_base, master_key=master_key
        )
        existing = operators.by_did(
            session, operators.operator_did(settings.did_web_base, DEMO_OPERATOR)
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
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(demo, indent=2))
    engine.dispose()
    demo = json.loads(path.read_text())
    console = Console()
    console.rule("dbp demo")
    console.print(f"operator  {demo['operator']}  {demo['did']}")
    console.print(f"token     {demo['token']}  (also in {path})")
    console.print(f"API docs  {settings.public_url}/docs")
    console.rule()
    return demo
