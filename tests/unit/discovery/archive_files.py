"""Writing archive files the way the earlier DiscoveryLoop did, for the read-only Archive's tests
(no code in opto writes them any more)."""

import json

from opto.discovery.archive import ARCHIVE_FORMAT, ARCHIVE_VERSION, Entry


def write_archive(path, entries, settings=None, system_prompt="sys"):
    """Write ``entries`` (dicts of Entry fields without ``id``) as an archive file at ``path``;
    ids are 1, 2, ... in order, as the loop numbered them."""
    items = [
        Entry(id=index, **{"created": "2026-01-01T00:00:00+00:00", **values}).to_dict()
        for index, values in enumerate(entries, start=1)
    ]
    document = {
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_VERSION,
        "settings": settings if settings is not None else {"objective": {"preset": "base"}},
        "system_prompt": system_prompt,
        "entries": items,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path
