"""Keyset pagination for lists newest first (jobs, activity events): every app's pages share it.

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

    @property
    def rows(self):
        """The page's rows, for lists of other things than jobs (activity events)."""
        return self.jobs


MAX_ID = 2**63 - 1  # the largest primary key any supported database stores


def positive_id(value):
    """A row id from user input (1..MAX_ID, ASCII digits only), or None: never a 500 for a bad one."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


def keyset_page(queryset, params, per_page=PER_PAGE):
    """One page of `queryset` (any order; it is re-ordered by -id) from GET `params`."""
    before, after = positive_id(params.get("before")), positive_id(params.get("after"))
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
