"""Dashboards at /dashboards: aggregate figures over every operator's batteries (public), and
the same figures for one operator at /dashboards/mine (company portal session). Each chart has
its data table on the page and a CSV download."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session

from infra.db import db_session
from issuer import listing
from portal import figures, sessions
from portal.charts import Chart, svg
from portal.errors import PortalError
from portal.render import NO_STORE, page

router = APIRouter(prefix="/dashboards", include_in_schema=False)

NAV = (
    ("/dashboards", "All operators"),
    ("/dashboards/mine", "My operator"),
    ("/portal/batteries", "Company portal"),
)


class UnknownChart(PortalError):
    code = "unknown-chart"
    status = 404


def _charts(session: Session, operator_did: str | None) -> tuple[list[Chart], dict[str, int]]:
    documents = listing.latest_public_documents(session, operator_did)
    counts = listing.counts(session, operator_did)
    completeness, missing = figures.completeness(documents)
    charts = [
        figures.recycled_content(documents),
        figures.carbon_by_model(documents),
        figures.by_status(counts),
        figures.by_category(counts),
        figures.over_time(listing.registered_per_month(session, operator_did)),
        figures.second_life(counts),
        figures.recovery_targets(),
        completeness,
    ]
    return charts, missing


def _operator_did(request: Request, session: Session) -> tuple[str, str]:
    from issuer.tables import Operator

    row = sessions.lookup(session, request, sessions.OPERATOR)
    operator = session.get(Operator, row.subject)
    if operator is None:
        raise sessions.NotSignedIn("this operator has been removed")
    return operator.did, operator.name


def _render(request: Request, charts, missing, *, heading: str, base: str, current: str):
    return page(
        "dashboards.html",
        title=heading,
        area_name="Dashboards",
        nav=NAV,
        current=current,
        heading=heading,
        charts=[(c, svg(c)) for c in charts],
        missing=missing,
        base=base,
    )


@router.get("")
def public_dashboard(request: Request, session: Session = Depends(db_session)) -> Response:
    charts, missing = _charts(session, None)
    return _render(
        request, charts, missing, heading="Batteries and passports on this service",
        base="/dashboards", current="/dashboards",
    )  # fmt: skip


@router.get("/mine")
def operator_dashboard(request: Request, session: Session = Depends(db_session)) -> Response:
    did, name = _operator_did(request, session)
    charts, missing = _charts(session, did)
    return _render(
        request, charts, missing, heading=f"Batteries and passports of {name}",
        base="/dashboards/mine", current="/dashboards/mine",
    )  # fmt: skip


def _csv(charts: list[Chart], chart_id: str) -> Response:
    for chart in charts:
        if chart.id == chart_id:
            return Response(
                chart.csv(),
                media_type="text/csv; charset=utf-8",
                headers={
                    "Content-Disposition": f'attachment; filename="{chart.id}.csv"',
                    **NO_STORE,
                },
            )
    raise UnknownChart(f"no chart {chart_id!r} on this dashboard")


@router.get("/data/{chart_id}.csv")
def public_csv(chart_id: str, session: Session = Depends(db_session)) -> Response:
    return _csv(_charts(session, None)[0], chart_id)


@router.get("/mine/data/{chart_id}.csv")
def operator_csv(
    chart_id: str, request: Request, session: Session = Depends(db_session)
) -> Response:
    did, _ = _operator_did(request, session)
    return _csv(_charts(session, did)[0], chart_id)
