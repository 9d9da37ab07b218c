from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation


class UserLanguageMiddleware:
    """A signed-in person reads the interface in the language saved on their profile.

    LocaleMiddleware has already chosen from the cookie or Accept-Language; a saved
    choice outranks both, so it follows the person to a new browser after the next log-in.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None else ""
        if not language or language == getattr(request, "LANGUAGE_CODE", ""):
            return self.get_response(request)
        # For this request only: the thread serves other people's requests next.
        previous = translation.get_language()
        translation.activate(language)
        request.LANGUAGE_CODE = language
        try:
            response = self.get_response(request)
            response.headers.setdefault("Content-Language", language)
            return response
        finally:
            translation.activate(previous)
