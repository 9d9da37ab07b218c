from __future__ import annotations

import pytest

from procedo.core.envconfig import ConfigError
from procedo.messaging.emailconfig import email_url_parse


def test_a_full_url_is_read() -> None:
    config = email_url_parse("smtp://me%40shop.ua:p%3Ass@mail.example.com:587/?tls=1&timeout=7")
    assert config == {
        "backend": "smtp",
        "host": "mail.example.com",
        "port": 587,
        "username": "me@shop.ua",
        "password": "p:ss",
        "ssl": False,
        "starttls": True,
        "timeout": 7.0,
    }
    assert email_url_parse("smtps://mail.example.com")["port"] == 465
    assert email_url_parse("console") == {"backend": "console"}


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example.com",
        "smtp://",
        "smtp://host:notaport",
        "smtp://h/?tls=maybe",
        "smtp://h/?verify=0",
    ],
)
def test_a_bad_url_is_one_line_naming_the_variable(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        email_url_parse(url)
    assert str(caught.value).startswith("EMAIL_URL: ") and "\n" not in str(caught.value)


def test_sms_url() -> None:
    from procedo.messaging.emailconfig import sms_url_parse

    assert sms_url_parse("") is None
    config = sms_url_parse("twilio://AC1:tok@api.twilio.com/?from=%2B15005550006")
    assert config is not None
    assert (config["base_url"], config["account_sid"], config["from"]) == (
        "https://api.twilio.com",
        "AC1",
        "+15005550006",
    )
    for bad in ("http://x", "twilio://api.twilio.com/?from=%2B1", "twilio://a:b@h/"):
        with pytest.raises(ConfigError) as caught:
            sms_url_parse(bad)
        assert str(caught.value).startswith("SMS_URL: ")
