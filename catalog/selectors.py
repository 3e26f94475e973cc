"""Reads for the catalog."""

from collections.abc import Iterable

from catalog.models import Category


def category_descendant_ids(*, brand_id: int, category_ids: Iterable[int]) -> set[int]:
    """The given categories and all their descendants, from one query over the brand's tree."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in (
        Category.objects.filter(brand_id=brand_id).order_by().values_list("id", "parent_id")
    ):
        children.setdefault(parent_id, []).append(pk)
    found: set[int] = set()
    stack = list(category_ids)
    while stack:
        pk = stack.pop()
        if pk in found:
            continue
        found.add(pk)
        stack.extend(children.get(pk, ()))
    return found
