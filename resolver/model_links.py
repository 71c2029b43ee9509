"""Answers above the item level (GS1 "walk-up"): `/01/{gtin}`, `/01/{gtin}/22/…/10/…`, and an item
URI whose serial is not registered here, all answer with the links of the battery model.

GS1 conformant resolver: "For each supported primary key, a resolver SHALL support all its key
qualifiers": a URI with a qualifier value the resolver has no links for walks up to the less
granular level instead of a 404. The registry holds batteries (GTIN + serial) only, so the level
walked up to is the model (the GTIN): batches and variants have no links of their own here. A
model is known when at least one battery with its GTIN is registered with this service.

What the model level has: a page saying which model the identifier names and where each battery's
passport is (its own item URI, in the QR code on the battery), and its linkset. No model-level
passport data is published separately: each battery's passport carries it.
"""

from __future__ import annotations

from typing import Final

from sqlmodel import Session, select

from resolver import linktypes as lt
from resolver.battery_links import HTML, default_target
from resolver.errors import ResolverError
from resolver.linkset import Linkset, Target
from resolver.tables import BatteryRoute

MODEL_TITLE: Final = "Battery model"


class UnknownModel(ResolverError):
    code = "unknown-model"
    status = 404


def known(session: Session, gtin: str) -> bool:
    """Whether a battery with this GTIN is registered here (one indexed read)."""
    return (
        session.exec(select(BatteryRoute.id).where(BatteryRoute.gtin == gtin).limit(1)).first()
        is not None
    )


def model_path(gtin: str) -> str:
    return f"/01/{gtin}"


def model_linkset(anchor: str, gtin: str) -> Linkset:
    """The links of the model URI `anchor` (`…/01/{gtin}`)."""
    links = Linkset(anchor, f"{MODEL_TITLE}, GTIN {gtin}")
    links.add(lt.DEFAULT_LINK, default_target(anchor, MODEL_TITLE))
    links.add(lt.PIP, Target(anchor, HTML, MODEL_TITLE, ("en",)))
    return links
