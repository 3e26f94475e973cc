"""Reads for the catalog."""

from collections.abc import Iterable
from dataclasses import dataclass

from catalog.models import Category


@dataclass(frozen=True)
class CategoryTree:
    """A brand's category tree, loaded in one query; walk it as often as needed."""

    children: dict[int | None, list[int]]

    def descendants(self, category_ids: Iterable[int]) -> set[int]:
        """The given categories and all their descendants."""
        found: set[int] = set()
        stack = list(category_ids)
        while stack:
            pk = stack.pop()
            if pk not in found:
                found.add(pk)
                stack.extend(self.children.get(pk, ()))
        return found


def category_tree(*, brand_id: int) -> CategoryTree:
    children: dict[int | None, list[int]] = {}
    tree = Category.objects.filter(brand_id=brand_id).order_by().values_list("id", "parent_id")
    for pk, parent_id in tree:
        children.setdefault(parent_id, []).append(pk)
    return CategoryTree(children=children)


def category_descendant_ids(*, brand_id: int, category_ids: Iterable[int]) -> set[int]:
    """The given categories and all their descendants, from one query over the brand's tree."""
    return category_tree(brand_id=brand_id).descendants(category_ids)
