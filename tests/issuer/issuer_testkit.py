"""Helpers for the issuer tests: requests as a client sends them."""

from __future__ import annotations

from typing import Any

from vocab.examples import load_example

GTIN = "09520123456788"


def auth(operator: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {operator['token']}"}


def passport(name: str = "ev") -> dict[str, Any]:
    """An example passport without the identifiers the service assigns."""
    data = load_example(name)
    for field in ("batteryIdentifier", "passportId", "passportVersion"):
        data.pop(field)
    return data


def register(client, operator: dict, serial: str = "SN-1", gtin: str = GTIN, **extra):
    return client.post(
        "/batteries", json={"gtin": gtin, "serial": serial, **extra}, headers=auth(operator)
    )


def registered(client, operator: dict, serial: str = "SN-1", **extra) -> dict:
    response = register(client, operator, serial, **extra)
    assert response.status_code == 201, response.text
    return response.json()


def issue(client, operator: dict, battery_id: str, data: dict | None = None):
    return client.post(
        f"/batteries/{battery_id}/passport",
        json=passport() if data is None else data,
        headers=auth(operator),
    )


def issued(client, operator: dict, serial: str = "SN-1", data: dict | None = None) -> dict:
    battery = registered(client, operator, serial)
    response = issue(client, operator, battery["id"], data)
    assert response.status_code == 201, response.text
    return {"battery": battery, **response.json()}


def verify(client, credential: dict):
    return client.post("/credentials/verify", json={"verifiableCredential": credential})


def failed_checks(response) -> dict[str, str]:
    """{check: code} of every failed check of a 400 verification answer."""
    assert response.status_code == 400, response.text
    return {e["check"]: e["type"].rsplit("/", 1)[-1] for e in response.json()["errors"]}


def set_status(client, operator: dict, credential_id: str, purpose: str, value: bool):
    return client.post(
        "/credentials/status",
        json={
            "credentialId": credential_id,
            "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": purpose},
            "status": value,
        },
        headers=auth(operator),
    )
