"""Procedo's URLs plus B1's hello-world endpoint (POST, body read, JSON answer, no database)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as procedo_urlpatterns


@csrf_exempt
@require_POST
def hello(request: HttpRequest) -> JsonResponse:
    request.read()
    return JsonResponse({"detail": "Hello, world."}, status=202)


urlpatterns = [path("bench/hello/", hello), *procedo_urlpatterns]
