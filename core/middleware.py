"""Middleware every request passes through."""

from django.core.exceptions import BadRequest
from django.http import JsonResponse

from core.api.errors import error_body
from core.text import text_problem


class UnstorableQueryMiddleware:
    """A query string holding text the database cannot compare with (`%00`, a NUL) is a 400
    before any view runs: the admin's list filters, for one, hand their values straight to a
    query, where PostgreSQL refuses it (a 500). The API answers in its error format, naming the
    parameter; pages get Django's 400 page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for name, values in request.GET.lists():
            problem = text_problem(name) or next(filter(None, map(text_problem, values)), None)
            if problem:
                if request.path.startswith("/api/"):
                    field = name if not text_problem(name) else "query"
                    return JsonResponse(
                        error_body("validation_error", problem, {field: [problem]}), status=400
                    )
                raise BadRequest(problem)
        return self.get_response(request)
