"""Wording of the Chinese interface (issue 5 §4): 姓名 for people, 名称 for companies and
lists; the formal 您 on the password pages too; a natural login error."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from crm.customers.forms import ContactForm
from crm.customers.models import Contact, Customer
from crm.tests_support.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _header_cells(html: str) -> str:
    return " ".join(re.findall(r"<th[^>]*>(.*?)</th>", html, re.S))


def test_the_users_table_calls_a_persons_name_xingming(client, org):
    client.force_login(org.admin)
    headers = _header_cells(client.get(reverse("settings:users")).content.decode())
    assert "姓名" in headers and "名称" not in headers


def test_a_contacts_name_is_xingming_and_a_companys_mingcheng():
    assert str(Contact._meta.get_field("name").verbose_name) == "姓名"
    assert str(ContactForm().fields["name"].label) == "姓名"
    assert str(Customer._meta.get_field("name").verbose_name) == "名称"


def test_the_customer_form_labels_contact_names_xingming(client, org):
    client.force_login(org.rep1)
    html = client.get(reverse("customers:create")).content.decode()
    assert re.search(r'for="contacts-0-name"[^>]*>姓名<', html)


def test_departments_keep_mingcheng(client, org):
    client.force_login(org.admin)
    headers = _header_cells(client.get(reverse("settings:departments")).content.decode())
    assert "名称" in headers


def test_the_password_change_page_says_nin_not_ni(client, org):
    """Django's own catalogue says 你 ("你的密码不能与你的其他个人信息太相似。")."""
    client.force_login(org.rep1)
    html = client.get(reverse("password_change")).content.decode()
    assert "你" not in html
    assert "您的密码不能与您的其他个人信息太相似" in html
    response = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": "x", "new_password2": "y"},
    )
    html = response.content.decode()
    assert "您的旧密码不正确，请重新输入。" in html
    assert "你" not in html


def test_a_failed_login_reads_naturally(client, org):
    response = client.post(reverse("login"), {"username": "rep1", "password": "wrong"})
    html = response.content.decode()
    assert "用户名或密码不正确，请重新输入。" in html
    assert "请输入一个正确的" not in html


def test_a_successful_login_still_works(client, org):
    response = client.post(reverse("login"), {"username": "rep1", "password": PASSWORD})
    assert response.status_code == 302
