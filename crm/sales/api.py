"""The sales API routes (issue 6 §6): reads through selectors, writes through services."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["sales"])
