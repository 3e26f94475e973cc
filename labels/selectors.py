"""Reads for labels."""

from labels.models import ProductLabel


def product_label_ids(*, product_ids) -> dict[int, set[int]]:
    result: dict[int, set[int]] = {}
    for product_id, label_id in ProductLabel.objects.filter(product_id__in=product_ids).values_list(
        "product_id", "label_id"
    ):
        result.setdefault(product_id, set()).add(label_id)
    return result
