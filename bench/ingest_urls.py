"""Procedo's URLs plus B1's hello-world endpoint (POST, body read, JSON answer, no database)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config import urls as procedo_urls


@csrf_exempt
@require_POST
def hello(request: HttpRequest) -> JsonResponse:
    request.read()
    return JsonResponse({"detail": "Hello, world."}, status=202)


urlpatterns = [path("bench/hello/", hello), *procedo_urls.urlpatterns]
handler404 = procedo_urls.handler404
handler500 = procedo_urls.handler500
