from orders.services.placement import LineRequest, order_place


def place_order(*, brand, products_and_quantities, **kwargs):
    """Place an order through the real service: `[(product, quantity), ...]`."""
    order, _ = order_place(
        brand=brand,
        lines=[LineRequest(product_id=p.id, quantity=q) for p, q in products_and_quantities],
        **kwargs,
    )
    return order
