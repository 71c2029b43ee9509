"""Base URI of the RFC 9457 problem types dbp returns (`{PROBLEM_BASE}{code}`)."""

PROBLEM_BASE = "https://w3id.org/dbp/problems/"
