"""Render admin-edited notification templates.

A dedicated template engine: Django syntax with the built-in tags and filters only, no
`{% load %}` libraries, no template files to include, no `{% debug %}`, autoescape off (subjects
and bodies are plain text; whoever displays them as HTML escapes them). The context holds the
event's JSON payload and plain dicts for the customer and the brand, never model instances, so a
template cannot walk from the customer to other data.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import TextNode
from django.template.defaulttags import DebugNode

_ENGINE = Engine(
    loaders=[("django.template.loaders.locmem.Loader", {})],
    libraries={},
    autoescape=False,
    string_if_invalid="",
)

SUBJECT_MAX_LENGTH = 255


class TemplateRenderError(Exception):
    pass


def compile_template(source: str) -> Template:
    template = _ENGINE.from_string(source)
    if template.nodelist.get_nodes_by_type(DebugNode):
        raise TemplateSyntaxError("The {% debug %} tag is not allowed.")
    for node in template.nodelist.get_nodes_by_type(TextNode):
        # Django leaves an unclosed tag as text; in an admin-edited template it is a typo.
        for opening in ("{{", "{%"):
            if opening in node.s:
                excerpt = node.s[node.s.index(opening) :][:40]
                raise TemplateSyntaxError(f"Unclosed tag: {excerpt!r}")
    return template


def validate_template_syntax(value: str) -> None:
    """Model field validator: the admin refuses a template that does not compile."""
    try:
        compile_template(value)
    except TemplateSyntaxError as exc:
        raise ValidationError(
            "Template error: %(error)s", code="invalid_template", params={"error": str(exc)}
        ) from exc


def render_message(*, subject: str, body: str, context: dict[str, Any]) -> tuple[str, str]:
    """Render a subject (whitespace collapsed to one line, at most 255 characters) and a body."""
    try:
        rendered_subject = compile_template(subject).render(Context(context, autoescape=False))
        rendered_body = compile_template(body).render(Context(context, autoescape=False))
    except Exception as exc:  # a template that compiled once can still fail on its data
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from exc
    one_line = " ".join(rendered_subject.split())
    return one_line[:SUBJECT_MAX_LENGTH], rendered_body.strip()
