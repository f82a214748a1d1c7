"""Folded-text search shared by every module's list (customers, leads, ...).

A term matches when its folded text is contained in one of the record's folded texts
(`search_blob`), on every database. On PostgreSQL the terms' tokens first narrow the rows
through a GIN index over the record's `search_document`, stored as a tsvector column
`search_vector` (see customers 0004 and leads 0004); the document holds the tokens of every
substring of those texts, so the index never drops a true match and both databases return the
same rows. A term without tokens (e.g. '12') is answered by the scan alone, never by a
silently empty page.
"""

from __future__ import annotations

import re
import unicodedata

from django.db import connection
from django.db.models import QuerySet

from crm.core.text import name_fold, search_query_tokens

_PHONE_LIKE = re.compile(r"[0-9+\-()（）\s]+")


def search_terms(query: str) -> list[str]:
    """The folded terms of a query, each of which must match: '华科 5678' is two terms.

    A query that looks like a phone number typed in groups ('138 1234 5678',
    '021 8765 4321') stays one term.
    """
    words = unicodedata.normalize("NFKC", query or "").split()
    if not words:
        return []
    if all(_PHONE_LIKE.fullmatch(w) for w in words):
        words = ["".join(words)]
    return list(dict.fromkeys(f for f in (name_fold(w) for w in words) if f))


def folded_search(queryset: QuerySet, query: str) -> QuerySet:
    """`queryset` narrowed to the rows matching every term of `query` (see the module)."""
    terms = search_terms(query)
    if not terms:
        return queryset
    table = queryset.model._meta.db_table
    if connection.vendor == "postgresql":
        tokens: list[str] = []
        for term in terms:
            chinese, digit_tokens, words = search_query_tokens(term)
            tokens += [f"'{t}'" for t in chinese + digit_tokens] + [f"'w{w}':*" for w in words]
        if tokens:
            # Tokens hold only CJK characters, ASCII letters and digits: no quoting issues.
            queryset = queryset.extra(
                # search_vector: to_tsvector(search_document) stored and GIN-indexed;
                # re-checking it reads the vector instead of re-parsing.
                where=[f"{table}.search_vector @@ to_tsquery('simple'::regconfig, %s)"],
                params=[" & ".join(dict.fromkeys(tokens))],
            )
    for term in terms:
        if connection.vendor == "postgresql":
            # The same substring test as `contains` (LIKE '%term%', case-sensitive), spelled so
            # that the planner takes it as nearly always true: the tsquery above already
            # carries the selectivity, and LIKE's own small guess, multiplied in, made it fetch
            # every match by bitmap and sort them instead of walking the list order.
            queryset = queryset.extra(
                where=[f"strpos({table}.search_blob, %s) <> 0"], params=[term]
            )
        else:
            queryset = queryset.filter(search_blob__contains=term)
    return queryset


def search_vector_sql(table: str, index: str) -> list[str]:
    """PostgreSQL statements adding `table`'s stored search vector and its GIN index."""
    return [
        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS search_vector tsvector "
        "GENERATED ALWAYS AS (strip(to_tsvector('simple'::regconfig, search_document))) STORED",
        f"ALTER TABLE {table} ALTER COLUMN search_vector SET STATISTICS 1000",
        f"CREATE INDEX IF NOT EXISTS {index} ON {table} USING gin (search_vector)",
    ]
