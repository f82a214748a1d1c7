"""Every user-facing string is translatable and both catalogues are complete (DESIGN inv. 7)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[1] / "crm" / "locale"


def po_entries(path: Path) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) for every live entry of a .po file; plural forms joined."""
    entries: list[tuple[str, str, bool]] = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        lines = [ln for ln in block.splitlines() if not ln.startswith("#~")]
        if not any(ln.startswith("msgid ") for ln in lines):
            continue
        fuzzy = any(ln.startswith("#,") and "fuzzy" in ln for ln in lines)
        parts: dict[str, str] = {"msgid": "", "msgstr": ""}
        current = ""
        for ln in lines:
            head = re.match(r'^(msgid|msgid_plural|msgstr(?:\[\d+\])?) "(.*)"$', ln)
            if head:
                current = "msgid" if head.group(1).startswith("msgid") else "msgstr"
                parts[current] += head.group(2)
            elif ln.startswith('"') and current:
                parts[current] += ln[1:-1]
        entries.append((parts["msgid"], parts["msgstr"], fuzzy))
    return entries


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
def test_catalogue_is_complete(language):
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    assert po.exists() and mo.exists(), f"{po} and its compiled .mo must be committed"
    missing = [mid for mid, mstr, fuzzy in po_entries(po) if mid and (not mstr or fuzzy)]
    assert not missing, f"{len(missing)} untranslated or fuzzy in {language}: {missing[:10]}"


PLACEHOLDER = re.compile(r"%\(\w+\)[sdf]|%[sd]")


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
def test_translations_keep_every_placeholder(language):
    """A translation naming another placeholder raises KeyError at run time (a 500): the
    custom-fields API answered 500 for a bad module in Chinese because of one."""
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    wrong = [
        (mid, mstr)
        for mid, mstr, _fuzzy in po_entries(po)
        if mid and mstr and set(PLACEHOLDER.findall(mid)) != set(PLACEHOLDER.findall(mstr))
    ]
    assert not wrong, wrong[:5]


def test_zh_hans_catalogue_is_chinese():
    """A sample of the interface really is Chinese in the zh-Hans catalogue."""
    entries = {
        mid: mstr for mid, mstr, _f in po_entries(LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po")
    }
    for msgid in ["Customers", "Log in", "Settings", "Please correct the fields marked below."]:
        assert re.search(r"[\u4e00-\u9fff]", entries.get(msgid, "")), msgid


@pytest.mark.django_db
def test_pages_speak_the_chosen_language(client, org):
    client.force_login(org.admin)
    zh = client.get("/customers/")
    assert "客户" in zh.content.decode()
    client.cookies["django_language"] = "en"
    en = client.get("/customers/")
    assert "Customers" in en.content.decode()


@pytest.mark.django_db
def test_the_interface_stays_chinese_for_an_english_browser_until_the_user_switches(client, org):
    client.force_login(org.rep1)
    html = client.get("/customers/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in html
    client.post("/i18n/setlang/", {"language": "en", "next": "/customers/"})
    html = client.get("/customers/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert '<html lang="en">' in html


@pytest.mark.django_db
def test_api_messages_follow_accept_language(client):
    zh = client.get("/api/v1/me")
    en = client.get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="en")
    assert zh.status_code == en.status_code == 401
    assert re.search(r"[\u4e00-\u9fff]", zh.json()["message"])
    assert en.json()["message"].startswith("Log in")
