"""Request bodies over the limit are refused from their Content-Length, before a byte is read.

Django spools a multipart upload above FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file while parsing it,
and the CSRF check parses every POST: a 10 GB upload would fill the disk before any view could say no.
This middleware runs before both. Uploads (multipart) may be AMEND_MAX_UPLOAD_BYTES; other bodies
DATA_UPLOAD_MAX_MEMORY_SIZE. The answer is 413 naming the limit (JSON under /api/).
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


def _limit(request: HttpRequest) -> int | None:
    if request.content_type == "multipart/form-data":
        return settings.AMEND_MAX_UPLOAD_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _size(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0  # Django reads no body without a valid length


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


class BodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit, size = _limit(request), _size(request)
        if limit is not None and size > limit:
            reason = f"the request body is {_mib(size)}; at most {_mib(limit)} is accepted"
            field = "file" if request.content_type == "multipart/form-data" else "detail"
            if request.path.startswith("/api/"):
                return JsonResponse({field: [reason] if field == "file" else reason}, status=413)
            return HttpResponse(f"Upload refused: {reason}.", status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
