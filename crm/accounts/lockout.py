"""Login protection that cannot be turned against users (ORG-4, issue 5 §3).

Three limits, checked before any password is looked at:

1. a username at one client address: 5 failures in 15 minutes (django-axes' own lockout,
   AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]);
2. one client address (for IPv6: its /64), whatever the usernames: 20 failures in the same
   15 minutes;
3. one username from all addresses together: 50 failures in an hour; the account is then
   locked for everybody until the failures age out of the hour or an administrator unlocks it,
   and the administrators are told once per attack.

Axes supports one failure limit for all its lockout parameters, so limits 2 and 3 live in this
handler, counted from LoginFailure rows in the database: every web process sees the same
counts, whatever the cache. Only real password checks count; a refused attempt does not
(AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False), so a locked-out client cannot push a
username towards limit 3 by retrying.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from crm.accounts.models import LoginFailure
from crm.core.net import address_network

# Why the request was refused; lockout_response words its message after it.
LOCKED_AT_ADDRESS = "username_at_address"
LOCKED_ADDRESS = "address"
LOCKED_ACCOUNT = "account"


def _address_since(now: datetime) -> datetime:
    return now - settings.AXES_COOLOFF_TIME


def _account_since(now: datetime) -> datetime:
    return now - settings.CRM_LOGIN_ACCOUNT_WINDOW


def address_failures(ip_address: str | None, *, now: datetime | None = None) -> int:
    """Failures from one address (an IPv6 address's /64) in the last 15 minutes, whatever the
    usernames."""
    network = address_network(ip_address)
    if not network:
        return 0
    now = now or timezone.now()
    return LoginFailure.objects.filter(network=network, at__gte=_address_since(now)).count()


def account_failures(username: str | None, *, now: datetime | None = None) -> int:
    """Failures for one username from all addresses within the account window."""
    if not username:
        return 0
    now = now or timezone.now()
    return LoginFailure.objects.filter(
        username=username, counts_for_account=True, at__gte=_account_since(now)
    ).count()


def accounts_over_limit(*, usernames: list[str] | None = None) -> set[str]:
    """Usernames locked for everybody now (one query), optionally among `usernames`."""
    from django.db.models import Count

    rows = LoginFailure.objects.filter(
        counts_for_account=True, at__gte=_account_since(timezone.now())
    )
    if usernames is not None:
        if not usernames:
            return set()
        rows = rows.filter(username__in=usernames)
    counted = rows.values("username").annotate(n=Count("id"))
    return {r["username"] for r in counted if r["n"] >= settings.CRM_LOGIN_ACCOUNT_FAILURE_LIMIT}


def account_attack_started(username: str, *, now: datetime | None = None) -> datetime | None:
    """When the oldest failure still counting against the account happened."""
    now = now or timezone.now()
    return (
        LoginFailure.objects.filter(
            username=username, counts_for_account=True, at__gte=_account_since(now)
        )
        .order_by("at")
        .values_list("at", flat=True)
        .first()
    )


def account_addresses(username: str, *, since: datetime) -> int:
    """How many distinct addresses the account's counting failures came from."""
    return (
        LoginFailure.objects.filter(username=username, counts_for_account=True, at__gte=since)
        .values("ip_address")
        .distinct()
        .count()
    )


class LoginAttemptHandler(AxesDatabaseHandler):
    """Axes' database handler plus the per-address and per-account limits."""

    def is_locked(self, request: HttpRequest, credentials: dict | None = None) -> bool:
        reason = self._limit_reached(request, credentials)
        if reason is None and super().is_locked(request, credentials):
            reason = LOCKED_AT_ADDRESS
        if reason is None:
            return False
        request.crm_lockout = reason  # type: ignore[attr-defined]
        return True

    def user_login_failed(
        self, sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs: Any
    ) -> None:
        refused_before_checking = bool(request is not None and request.axes_locked_out)
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None or refused_before_checking or self.is_whitelisted(request, credentials):
            return
        username = get_client_username(request, credentials)
        now = request.axes_attempt_time
        LoginFailure.objects.create(
            username=(username or "")[:255],
            ip_address=request.axes_ip_address,
            network=address_network(request.axes_ip_address),
            at=now,
        )
        # The longest window is all any limit looks at; older rows only cost index space.
        LoginFailure.objects.filter(at__lt=min(_address_since(now), _account_since(now))).delete()
        # Checked even when this failure also locked the username at this address: the
        # failure that takes the account over its limit must not go unreported.
        reason = self._limit_reached(request, credentials)
        if reason is None and not request.axes_locked_out:
            return
        request.axes_locked_out = True
        request.axes_credentials = credentials
        request.crm_lockout = reason or LOCKED_AT_ADDRESS  # type: ignore[attr-defined]
        if reason == LOCKED_ACCOUNT:
            from crm.accounts.services import user_login_locked

            user_login_locked(username=username or "", site_url=request.build_absolute_uri("/"))

    def _limit_reached(self, request: HttpRequest, credentials: dict | None) -> str | None:
        """The widest limit this request's username or address has reached, if any."""
        now = request.axes_attempt_time
        username = get_client_username(request, credentials)
        if account_failures(username, now=now) >= settings.CRM_LOGIN_ACCOUNT_FAILURE_LIMIT:
            return LOCKED_ACCOUNT
        if address_failures(request.axes_ip_address, now=now) >= (
            settings.CRM_LOGIN_IP_FAILURE_LIMIT
        ):
            return LOCKED_ADDRESS
        return None
