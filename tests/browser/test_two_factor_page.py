"""Turning on two-factor login in a real browser, under the real Content-Security-Policy:
the QR code shows (a data: image drawn by the panel), a code from the app turns it on, the
recovery codes are shown, and the next login asks for a code."""

import re

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from .helpers import log_in


def app_code(device, steps_ahead=0):
    device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift + steps_ahead):06d}"


def test_owner_turns_on_two_factor_and_the_next_login_asks_for_the_code(new_page, owner):
    page = new_page(enforce_csp=True)
    refused = []  # what the Content-Security-Policy blocked, as Chromium reports it

    def console(message):
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", console)
    log_in(page, owner)

    page.get_by_role("link", name="Account").click()
    page.wait_for_url("**/account/")
    page.get_by_role("link", name="Turn on two-factor login").click()
    page.get_by_role("button", name="Set up two-factor login").click()
    page.wait_for_url("**/account/two-factor")

    qr = page.get_by_role("img", name="QR code of your new authenticator key")
    qr.wait_for()
    assert page.evaluate("document.querySelector('img.qr').naturalWidth") > 0  # drawn, not refused
    key = page.locator("#totp-key").inner_text().replace(" ", "")
    device = TOTPDevice.objects.get(user=owner)
    assert not device.confirmed and len(key) == 32

    page.get_by_label("The code your app shows").fill(app_code(device))
    page.get_by_role("button", name="Turn two-factor login on").click()
    codes = page.locator("#recovery-codes li")
    codes.first.wait_for()
    assert codes.count() == 10
    assert re.fullmatch(r"[a-z2-7]{4}-[a-z2-7]{4}", codes.first.inner_text())

    page.get_by_role("button", name=f"Log out {owner.get_username()}").click()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "pw-owner")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/accounts/login/code/**")
    assert page.get_by_role("link", name="Servers").count() == 0
    page.get_by_label("Code").fill(app_code(device, steps_ahead=1))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/servers/$"))
    assert refused == []
