"""Battery DID documents: `did:web:{host}:batteries:{id}`, served at `/batteries/{id}/did.json`.

A battery holds no keys: its `controller` is the operator responsible for it now, whose keys act
for it. Its `service` entries say where the passport is read now (the item URI on the instance
holding it, following second-life moves and operators leaving the market), mirroring the linkset
the way the UNTP Identity Resolver spec pairs DID services with link types.
"""

from __future__ import annotations

from typing import Final

from resolver.registry import placement
from resolver.tables import BatteryRoute
from vocab.gs1 import ItemKey

DID_CONTEXT: Final = "https://www.w3.org/ns/did/v1"
PASSPORT_SERVICE: Final = "BatteryPassport"
LINKSET_SERVICE: Final = "LinkSet"
BACKUP_SERVICE: Final = "BatteryPassportBackup"
# Where restricted tiers are released against a verifiable presentation (the linkset's
# dbp:restrictedDataAccess link), on the instance holding the passport now.
RESTRICTED_SERVICE: Final = "BatteryPassportRestrictedData"


def item_path(route: BatteryRoute) -> str:
    """The battery's GS1 Digital Link path, `/01/{gtin}/21/{serial}` (the registry key)."""
    return ItemKey(route.gtin, route.serial).path()


def passport_endpoint(route: BatteryRoute, own_url: str) -> str:
    """The item URI on the instance that serves the passport now."""
    return placement(route, own_url).base_url + item_path(route)


def did_document(route: BatteryRoute, *, own_url: str, backup_url: str | None = None) -> dict:
    """`backup_url`: base URL of the independent backup service (DBP_BACKUP_URL), named by the
    `#backup` service unless the route has its own (the operator left the market)."""
    endpoint = passport_endpoint(route, own_url)
    backup = route.backup_url or (backup_url.rstrip("/") if backup_url else None)
    services: list[dict] = [
        {"id": f"{route.did}#passport", "type": PASSPORT_SERVICE, "serviceEndpoint": endpoint},
        {
            "id": f"{route.did}#linkset",
            "type": LINKSET_SERVICE,
            "serviceEndpoint": endpoint + "?linkType=linkset",
        },
        {
            "id": f"{route.did}#restricted-data",
            "type": RESTRICTED_SERVICE,
            "serviceEndpoint": endpoint + "/access",
        },
    ]
    if backup:
        services.append(
            {
                "id": f"{route.did}#backup",
                "type": BACKUP_SERVICE,
                "serviceEndpoint": backup + item_path(route),
            }
        )
    return {
        "@context": [DID_CONTEXT],
        "id": route.did,
        "controller": route.holder_did,
        # The identifier on the battery's QR code names the same battery (DID Core alsoKnownAs).
        "alsoKnownAs": [own_url.rstrip("/") + item_path(route)],
        "service": services,
    }
