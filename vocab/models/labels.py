"""Symbols, labels and conformity documents (DATAMODEL rows 12-18, Annex XIII 1(q)-(s), 1(r), 3)."""

from __future__ import annotations

from enum import StrEnum

from vocab.models.common import Document, LanguageMap, Model, NonEmptyStr, Url


class LabelSubject(StrEnum):
    """What a label or symbol on the battery is about."""

    SEPARATE_COLLECTION = "separate-collection"  # Art 13(4), Annex VI Part B
    CADMIUM = "cadmium"  # Art 13(5): chemical symbol Cd
    LEAD = "lead"  # Art 13(5): chemical symbol Pb
    CARBON_FOOTPRINT = "carbon-footprint"  # Art 7(2)
    CE_MARKING = "ce-marking"  # Art 20
    OTHER = "other"


class LabelSymbol(Model):
    subject: LabelSubject
    symbol: Url
    """The symbol's graphic."""
    meaning: LanguageMap
    """Meaning of the label or symbol, per language (Annex XIII 1(s), Art 74(1)(e))."""


class Labels(Model):
    symbols: list[LabelSymbol] | None = None
    declaration_of_conformity: Document | None = None
    """The EU declaration of conformity (Art 18)."""
    declaration_of_conformity_id: NonEmptyStr | None = None
    test_reports: list[Document] | None = None
    """Results of test reports proving compliance (Annex XIII point 3): authorities only."""
