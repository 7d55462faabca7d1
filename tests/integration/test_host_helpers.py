"""The helpers' own readings, checked against Django's signing (a wrong reading would hide a leak)."""

from __future__ import annotations

import pytest
from django.core import signing

from tests.integration.hostproject import cookie_plaintext

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("signer", [signing.Signer, signing.TimestampSigner])
@pytest.mark.parametrize("text", ["short key abc", "long " * 200 + "key abc"], ids=["plain", "compressed"])
def test_cookie_plaintext_reads_what_django_signed(signer, text):
    value = signer(key="not-the-host-key", salt="django.contrib.messages").sign_object([text], compress=True)
    assert text in cookie_plaintext(value)
