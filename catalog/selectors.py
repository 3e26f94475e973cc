"""Reads for the catalog."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from catalog.models import Category


@dataclass(frozen=True)
class CategoryTree:
    """A brand's category tree, loaded in one query; walk it as often as needed."""

    children: dict[int | None, list[int]]
    by_slug: dict[str, list[int]] = field(default_factory=dict)  # lower-case slug → ids

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
    by_slug: dict[str, list[int]] = {}
    tree = Category.objects.filter(brand_id=brand_id).order_by()
    for pk, parent_id, slug in tree.values_list("id", "parent_id", "slug"):
        children.setdefault(parent_id, []).append(pk)
        by_slug.setdefault(slug.lower(), []).append(pk)
    return CategoryTree(children=children, by_slug=by_slug)


def category_descendant_ids(*, brand_id: int, category_ids: Iterable[int]) -> set[int]:
    """The given categories and all their descendants, from one query over the brand's tree."""
    return category_tree(brand_id=brand_id).descendants(category_ids)
