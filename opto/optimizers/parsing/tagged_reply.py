"""Read a tagged reply (OptoPrimeV2, OPROv2) into a Draft: ``<reasoning>`` and
``<variable><name>..</name><value>..</value></variable>`` elements, values as strings.
replies.py decides when this reader runs.
"""

from __future__ import annotations

from opto.optimizers.parsing.reply import Draft, count, normalise_name
from opto.optimizers.parsing.tagged_scanner import ReplyScanner, XmlTags
from opto.optimizers.parsing.text_cleanup import clean_value, strip_cdata, tidy


def read_tags(text: str, tags: XmlTags) -> Draft:
    """Draft from the tagged reply ``text``, whose tag names are ``tags``: the last
    non-empty reasoning and every complete variable (those cut off are noted, not used)."""
    draft = Draft()
    scanner = ReplyScanner(text, tags)  # one index of the reply for every range scanned
    scan = scanner.scan(0, len(text))
    variables = list(scan.variables)
    if not variables:
        for block in scan.reasonings:
            if block.closed:
                variables += scanner.scan(block.inner_start, block.inner_end).variables
        if variables:
            draft.notes.append(f"the variables were inside <{tags.reasoning}>")
    reasonings = [tidy(strip_cdata(text[b.inner_start : b.inner_end])) for b in scan.reasonings]
    if reasonings:
        draft.reasoning = next((r for r in reversed(reasonings) if r), reasonings[-1])
    if reasonings or variables:
        draft.format = "xml"
    cut_names = [v.name for v in variables if v.cut_off]
    usable = [v for v in variables if not v.cut_off and v.name is not None and v.value is not None]
    incomplete = len(variables) - len(usable) - len(cut_names)
    if incomplete:
        draft.notes.append(
            f"skipped {count(incomplete, f'<{tags.variable}> element')} without both "
            f"<{tags.name}> and <{tags.value}>"
        )
    draft.add([(strip_cdata(v.name), v.value) for v in usable], clean_value)
    if cut_names:
        draft.truncated = True
        name = normalise_name(strip_cdata(cut_names[0] or ""))
        where = f"the <{tags.value}> of '{name}'" if name else f"a <{tags.value}>"
        draft.error = (
            f"the reply was cut off inside {where}; kept "
            f"{count(len(draft.suggestion), 'complete variable')}"
        )
    elif not variables:
        draft.error = f"no <{tags.variable}> element found in the reply"
    elif not draft.suggestion and not usable:
        draft.error = (
            f"found {count(len(variables), f'<{tags.variable}> element')} but none had "
            f"both a <{tags.name}> and a <{tags.value}>"
        )
    return draft
