"""The Steam Web API's Workshop calls: what an item is (title, size, update time, file) and
what a collection holds. No key is needed for either.

`POST <api>/ISteamRemoteStorage/GetPublishedFileDetails/v1/` and `.../GetCollectionDetails/v1/`
with form fields, as docs/reference/workshop.md shows with real answers. Each item is asked
about in a request of its own, all at once: one slow or broken answer then costs only its
own item, said as that item's error, never the whole list.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from hostctl.errors import HostError

APP_ID = 550  # Left 4 Dead 2: the app Workshop add-ons for it are consumed by
RESULT_OK = 1
RESULT_MISSING = 9  # k_EResultFileNotFound: Steam's answer for a missing, deleted or private item
MAX_ITEMS = 100  # in one request of the panel: a collection of a few dozen campaigns is already big
_ID = re.compile(r"^\d{1,20}$")
_LINK_HOSTS = ("steamcommunity.com", "www.steamcommunity.com")
_PARALLEL = 8


@dataclass(frozen=True)
class Item:
    """One item as the API describes it; `error` says why it cannot be installed ("" if it can)."""

    id: str
    error: str = ""
    title: str = ""
    size: int = 0
    time_updated: int = 0
    file_url: str = ""


def parse_ids(text: str) -> list[str]:
    """Item ids from pasted text: ids or Workshop links, one per line or separated by spaces or
    commas, in order, each once. ValueError naming the first word that is neither."""
    ids: list[str] = []
    for word in re.split(r"[\s,]+", text.strip()):
        if not word:
            continue
        item = item_id(word)
        if item is None:
            raise ValueError(f"{word[:80]!r} is neither a Workshop item id nor a link to one")
        if item not in ids:
            ids.append(item)
    if len(ids) > MAX_ITEMS:
        raise ValueError(f"At most {MAX_ITEMS} items at once ({len(ids)} given)")
    return ids


def item_id(word: str) -> str | None:
    """`123` or `https://steamcommunity.com/sharedfiles/filedetails/?id=123` → "123"; else None."""
    word = str(word).strip()
    if _ID.match(word):
        return str(int(word))
    parts = urlsplit(word)
    if parts.scheme in ("http", "https") and (parts.hostname or "") in _LINK_HOSTS:
        found = parse_qs(parts.query).get("id", [""])[0]
        if _ID.match(found):
            return str(int(found))
    return None


def items(api_url: str, ids: list[str], *, timeout: float) -> dict[str, Item]:
    """{id: Item} for every id, each asked in its own request, all at once."""
    if not ids:
        return {}
    with ThreadPoolExecutor(max_workers=min(_PARALLEL, len(ids))) as pool:
        return dict(zip(ids, pool.map(lambda i: _item(api_url, i, timeout), ids), strict=True))


def _item(api_url: str, item: str, timeout: float) -> Item:
    try:
        form = {"itemcount": 1, "publishedfileids[0]": item}
        answer = post(api_url, "GetPublishedFileDetails", form, timeout)
        details = answer["response"]["publishedfiledetails"][0]
    except HostError as exc:
        return Item(item, error=str(exc))
    except (KeyError, IndexError, TypeError):
        return Item(item, error="Steam's answer about it was not in the expected form")
    return describe(item, details)


def describe(item: str, details: dict) -> Item:
    """An Item from one entry of `publishedfiledetails` (see docs/reference/workshop.md)."""
    result = details.get("result")
    if result == RESULT_MISSING:
        return Item(item, error="it is missing or private on the Workshop (Steam answered result 9)")
    if result != RESULT_OK:
        return Item(item, error=f"Steam could not describe it (result {result})")
    try:
        app = int(details.get("consumer_app_id") or 0)
        size = int(details.get("file_size") or 0)  # a string in Steam's answers
        updated = int(details.get("time_updated") or 0)
    except (TypeError, ValueError):
        return Item(item, error="Steam's answer about it was not in the expected form")
    title = str(details.get("title") or "").strip()[:200] or f"Workshop item {item}"
    if app != APP_ID:
        return Item(item, title=title, error=f"it is not a Left 4 Dead 2 add-on (it is for app {app})")
    if details.get("banned"):
        return Item(item, title=title, error="it is banned from the Workshop")
    url = str(details.get("file_url") or "")
    if url and urlsplit(url).scheme not in ("http", "https"):
        url = ""  # not a download the panel makes: steamcmd fetches the item instead
    return Item(item, title=title, size=size, time_updated=updated, file_url=url)


def collection(api_url: str, collection_id: str, *, timeout: float) -> list[str]:
    """The item ids of a collection, in its order; HostError with the reason if there are none."""
    form = {"collectioncount": 1, "publishedfileids[0]": collection_id}
    try:
        found = post(api_url, "GetCollectionDetails", form, timeout)["response"]["collectiondetails"][0]
    except (KeyError, IndexError, TypeError):
        raise HostError(f"Steam's answer about collection {collection_id} was unreadable") from None
    if found.get("result") != RESULT_OK:
        raise HostError(
            f"Collection {collection_id} is missing or private on the Workshop (Steam answered result "
            f"{found.get('result')})"
        )
    children = sorted(found.get("children") or [], key=lambda c: int(c.get("sortorder") or 0))
    # filetype 0 is an item; a collection may also list other collections (filetype 2).
    ids = [str(c["publishedfileid"]) for c in children if int(c.get("filetype") or 0) == 0]
    if not ids:
        raise HostError(f"Collection {collection_id} holds no items")
    return ids[:MAX_ITEMS]


def post(api_url: str, method: str, form: dict, timeout: float) -> dict:
    """POST a form to ISteamRemoteStorage/<method>/v1/; the JSON answer, or HostError saying why not."""
    url = f"{api_url.rstrip('/')}/ISteamRemoteStorage/{method}/v1/"
    request = urllib.request.Request(url, data=urlencode(form).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.load(answer)
    except TimeoutError:
        raise HostError(f"Steam did not answer within {timeout:g}s; try again later") from None
    except urllib.error.HTTPError as exc:
        raise HostError(f"Steam answered HTTP {exc.code}; try again later") from None
    except urllib.error.URLError as exc:
        reason = "it did not answer in time" if isinstance(exc.reason, TimeoutError) else exc.reason
        raise HostError(f"Steam could not be reached ({reason}); try again later") from None
    except (ValueError, OSError) as exc:
        raise HostError(f"Steam's answer could not be read ({type(exc).__name__})") from None
