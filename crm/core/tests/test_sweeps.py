"""Periodic sweeps (DESIGN "clocks and sweeps", issue 5 §7): each app registers its own sweeps
with core, core imports no app, a sweep runs as of a given `now`, and `crm sweep --now` runs
them all as of any moment (in the CRM's time zone when none is given)."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crm import cli
from crm.core import sweeps
from crm.customers.models import Customer
from crm.customers.services import customer_delete, customers_purge_expired
from crm.tests_support.factories import customer_make

CORE = Path(__file__).resolve().parents[1]
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The data-scope engine reads users, roles and departments, which live in accounts (the
# project's AUTH_USER_MODEL); no other app may be imported by core.
CORE_MAY_IMPORT = {"crm.core", "crm.accounts.models"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_core_imports_no_app_above_it():
    """Before the registry, core/tasks.py imported crm.customers.services by name; every new
    module's sweep would have been another import in core."""
    offending = {}
    for path in CORE.rglob("*.py"):
        if "tests" in path.relative_to(CORE).parts:
            continue
        bad = {
            name
            for name in _imports(path)
            if name.startswith("crm.")
            and not any(name == ok or name.startswith(ok + ".") for ok in CORE_MAY_IMPORT)
        }
        if bad:
            offending[str(path.relative_to(CORE))] = sorted(bad)
    assert offending == {}


def test_the_customers_app_registers_its_recycle_bin_sweep():
    assert sweeps.sweeps_registered()["recycle_bin_purge"] is customers_purge_expired


def test_every_registered_sweep_runs_as_of_the_given_moment(monkeypatch):
    seen: list[dt.datetime] = []
    monkeypatch.setattr(sweeps, "_SWEEPS", {"probe": lambda *, now: seen.append(now) or 7})
    moment = dt.datetime(2027, 1, 31, 10, 0, tzinfo=SHANGHAI)
    assert sweeps.sweeps_run_now(now=moment) == {"probe": 7}
    assert seen == [moment]


def test_a_failing_sweep_does_not_keep_the_others_from_running(monkeypatch):
    ran: list[str] = []

    def broken(*, now):
        raise RuntimeError("boom")

    def fine(*, now):
        ran.append("fine")
        return 1

    monkeypatch.setattr(sweeps, "_SWEEPS", {"broken": broken, "fine": fine})
    with pytest.raises(sweeps.SweepsFailed, match="broken"):
        sweeps.sweeps_run_now()
    assert ran == ["fine"]


# --- crm sweep --now ------------------------------------------------------------------------


@pytest.fixture
def binned(org) -> Customer:
    """A customer moved to the recycle bin on 2027-01-01 at 10:00 Beijing time (retention: the
    default 30 days)."""
    customer = customer_make(owner=org.rep1)
    customer_delete(actor=org.manager, customer=customer)
    Customer.objects.filter(pk=customer.pk).update(
        deleted_at=dt.datetime(2027, 1, 1, 10, 0, tzinfo=SHANGHAI)
    )
    return customer


@pytest.mark.django_db
def test_crm_sweep_now_purges_as_of_the_given_day_and_not_before(binned, capsys):
    # when the sweeps run as of 29 days after the deletion, the customer stays
    assert cli.main(["sweep", "--now", "2027-01-30"]) == 0
    assert "recycle_bin_purge: 0" in capsys.readouterr().out
    assert Customer.objects.filter(pk=binned.pk).exists()

    # when they run as of 31 days after it, the customer is purged and the count printed
    assert cli.main(["sweep", "--now", "2027-02-01T10:00"]) == 0
    out = capsys.readouterr().out
    assert "sweeps as of 2027-02-01T10:00+08:00" in out
    assert "recycle_bin_purge: 1" in out
    assert not Customer.objects.filter(pk=binned.pk).exists()


@pytest.mark.django_db
def test_crm_sweep_now_without_a_zone_is_beijing_time(binned, capsys):
    """Exactly 30 days after 10:00 Beijing time nothing is due yet; read as UTC the same
    "10:00" would be eight hours later and purge."""
    assert cli.main(["sweep", "--now", "2027-01-31T10:00"]) == 0
    assert "recycle_bin_purge: 0" in capsys.readouterr().out
    assert cli.main(["sweep", "--now", "2027-01-31T10:01"]) == 0
    assert "recycle_bin_purge: 1" in capsys.readouterr().out


@pytest.mark.django_db
def test_crm_sweep_takes_an_explicit_zone(binned, capsys):
    # 02:00 UTC is 10:00 in Beijing: exactly 30 days, nothing due yet
    assert cli.main(["sweep", "--now", "2027-01-31T02:00+00:00"]) == 0
    assert "recycle_bin_purge: 0" in capsys.readouterr().out
    assert Customer.objects.filter(pk=binned.pk).exists()


@pytest.mark.django_db
def test_crm_sweep_without_an_option_runs_as_of_the_present(org, capsys):
    old = customer_make(owner=org.rep1)
    recent = customer_make(owner=org.rep1)
    for customer, days in ((old, 31), (recent, 29)):
        customer_delete(actor=org.manager, customer=customer)
        Customer.objects.filter(pk=customer.pk).update(
            deleted_at=timezone.now() - dt.timedelta(days=days)
        )
    assert cli.main(["sweep"]) == 0
    assert "recycle_bin_purge: 1" in capsys.readouterr().out
    assert list(Customer.objects.values_list("pk", flat=True)) == [recent.pk]


@pytest.mark.django_db
def test_crm_sweep_refuses_a_moment_it_cannot_read(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["sweep", "--now", "next tuesday"])
    assert exit_info.value.code == 2
    assert "not an ISO date or date-time" in capsys.readouterr().err


def test_a_sweep_with_every_runs_at_most_that_often_in_scheduled_rounds():
    import datetime as dt

    from django.utils import timezone

    from crm.core import sweeps

    calls: list[dt.datetime] = []
    saved = sweeps.sweeps_registered()
    try:
        sweeps._SWEEPS.clear()
        sweeps.sweep_register(
            "rebuild", lambda *, now: calls.append(now) or 1, every=dt.timedelta(hours=1)
        )
        start = timezone.now()
        sweeps.sweeps_run_now(now=start, force=False)
        sweeps.sweeps_run_now(now=start + dt.timedelta(minutes=5), force=False)
        assert len(calls) == 1  # the second scheduled round skipped it
        sweeps.sweeps_run_now(now=start + dt.timedelta(minutes=10))  # crm sweep: always
        sweeps.sweeps_run_now(now=start + dt.timedelta(minutes=70), force=False)
        assert len(calls) == 3
    finally:
        sweeps._SWEEPS.clear()
        sweeps._SWEEPS.update(saved)
        sweeps._EVERY.pop("rebuild", None)
