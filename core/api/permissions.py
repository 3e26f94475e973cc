"""Who may call a view. Every API view names its permission classes explicitly."""

from rest_framework import permissions


def is_device_request(request) -> bool:
    # A plain Django request (a storefront page) has no `auth`: it is never a device's.
    return getattr(getattr(request, "auth", None), "is_pos_device", False)


def request_customer(request):
    """The customer profile of the authenticated user, or None."""
    if is_device_request(request) or not request.user.is_authenticated:
        return None
    return getattr(request.user, "customer", None)


class IsStaff(permissions.BasePermission):
    message = "Staff only."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            not is_device_request(request)
            and user.is_authenticated
            and user.is_active
            and user.is_staff
        )


class IsCustomer(permissions.BasePermission):
    message = "Customers only."

    def has_permission(self, request, view) -> bool:
        return request_customer(request) is not None


class IsPosDevice(permissions.BasePermission):
    message = "POS devices only."

    def has_permission(self, request, view) -> bool:
        return is_device_request(request)


class StaffModelPermissions(permissions.DjangoModelPermissions):
    """Staff with the model permission of their role; reads need the `view` permission."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
    }

    def has_permission(self, request, view) -> bool:
        return IsStaff().has_permission(request, view) and super().has_permission(request, view)


def role_permission(*perms: str, message: str) -> type[permissions.BasePermission]:
    """A permission: the user's roles grant every one of `perms`; `message` says why not."""

    class RolePermission(permissions.BasePermission):
        def has_permission(self, request, view) -> bool:
            return request.user.has_perms(perms)

    RolePermission.message = message
    return RolePermission
