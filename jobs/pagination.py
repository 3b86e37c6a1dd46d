"""Keyset pagination for job lists, newest first.

OFFSET pagination and COUNT(*) both grow with history; seeking by id on the
(server, -id) / primary-key indexes costs the same on page 1 of 100 jobs and on
page 2,000 of 100,000.
"""

from dataclasses import dataclass

PER_PAGE = 50


@dataclass
class Page:
    jobs: list
    older: int | None  # pass as ?before= to see older jobs
    newer: int | None  # pass as ?after= to see newer jobs


def _positive_int(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def keyset_page(queryset, params, per_page=PER_PAGE):
    """One page of `queryset` (any order; it is re-ordered by -id) from GET `params`."""
    before, after = _positive_int(params.get("before")), _positive_int(params.get("after"))
    if after and not before:
        rows = list(queryset.filter(id__gt=after).order_by("id")[: per_page + 1])
        has_more_newer = len(rows) > per_page
        jobs = rows[:per_page][::-1]
        return Page(
            jobs=jobs,
            older=jobs[-1].id if jobs else None,
            newer=jobs[0].id if jobs and has_more_newer else None,
        )
    if before:
        queryset = queryset.filter(id__lt=before)
    rows = list(queryset.order_by("-id")[: per_page + 1])
    jobs = rows[:per_page]
    return Page(
        jobs=jobs,
        older=jobs[-1].id if len(rows) > per_page else None,
        newer=jobs[0].id if jobs and before else None,
    )
