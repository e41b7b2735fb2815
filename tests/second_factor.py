"""Passing an admin key's second factor in the console, as a person with an authenticator app.

The console asks an admin key for a TOTP code after the key (api/console/routers/second_factor.py);
the first time it shows the secret to enrol. `pass_second_factor` reads the secret from that
page (kept in `secrets`, per key name), computes the code with pyotp and sends it. A code works
once per 30-second step, so `next_code` moves to the next step when this one was used, and
waits for the clock when both usable steps are spent.
"""

from __future__ import annotations

import re
import time

import httpx
import pyotp
from serving import wait_until

PATH = "/console/sign-in/second-factor"
_last_step: dict[str, int] = {}


def next_code(secret: str) -> str:
    """A code the console accepts now and has not seen (its step is after the last used)."""
    totp = pyotp.TOTP(secret)
    now = totp.timecode(time.time())
    step = max(now, _last_step.get(secret, now - 1) + 1)
    if step > now + 1:  # both the current and the next step are spent: wait for the clock
        wait_until(lambda: totp.timecode(time.time()) + 1 >= step)
    _last_step[secret] = step
    return totp.at(step * totp.interval)


def secret_on(page: str) -> str | None:
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    return found.group(1) if found else None


def pass_second_factor(
    http: httpx.Client, after_key: httpx.Response, secrets: dict[str, str], key_name: str
) -> httpx.Response:
    """From the key form's redirect to the second factor, through it: the console's answer
    (303 to the page asked for, or the recovery codes page right after enrolling)."""
    assert after_key.status_code == 303 and after_key.headers["location"].startswith(PATH)
    page = http.get(after_key.headers["location"])
    assert page.status_code == 200, page.text
    secret = secret_on(page.text)
    if secret is not None:
        secrets[key_name] = secret
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    next_path = re.search(r'name="next" value="([^"]*)"', page.text).group(1)
    code = next_code(secrets[key_name])
    return http.post(PATH, data={"csrf": csrf, "code": code, "next": next_path})
