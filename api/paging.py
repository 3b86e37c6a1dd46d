"""Cursor pages, newest first: `?cursor=<next from the last page>&limit=N` (DESIGN.md §12).

The cursor is the last id of the page before: each row comes once however many rows arrive
meanwhile, and every page costs one indexed query however deep it is.
"""

MAX_LIMIT = 200


def page(queryset, cursor, limit, to_dict):
    """{"items": [...], "next": cursor or None} of `queryset` (ordered by -id here)."""
    limit = max(1, min(MAX_LIMIT, limit))
    rows = queryset.order_by("-id")
    if cursor is not None:
        rows = rows.filter(id__lt=cursor)
    rows = list(rows[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [to_dict(row) for row in rows], "next": rows[-1].id if more else None}
