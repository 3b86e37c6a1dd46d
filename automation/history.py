"""Bounded histories (schedule runs, webhook deliveries): new rows push the oldest out."""


def keep_newest(queryset, count):
    """Delete every row of `queryset` but the `count` newest (by id); returns how many went."""
    oldest_kept = list(queryset.order_by("-id").values_list("id", flat=True)[count - 1 : count])
    if not oldest_kept:
        return 0
    deleted, _ = queryset.filter(id__lt=oldest_kept[0]).delete()
    return deleted
