"""Writes for customers."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from accounts.security_events import EMAIL_CHANGED, security_event_log
from accounts.services import password_confirm, password_validate
from brands.models import Brand
from core.errors import ApplicationError, ConflictError, PermissionDeniedError
from customers.models import Customer, CustomerBrand
from customers.selectors import customer_known_beyond
from rules.models import Event
from rules.services.events import rules_event_emit


def customer_link_brand(*, customer: Customer, brand: Brand) -> None:
    """Make the customer known to the brand; a second call changes nothing."""
    CustomerBrand.objects.get_or_create(customer=customer, brand=brand)


def _check_unique(customer: Customer) -> None:
    """Refuse an email or external id another customer already has, as a coded conflict."""
    others = Customer.objects.exclude(pk=customer.pk) if customer.pk else Customer.objects.all()
    if customer.email and others.filter(email__iexact=customer.email).exists():
        raise ConflictError(
            "Another customer has this email address.",
            code="customer_email_taken",
            fields={"email": ["Already in use."]},
        )
    if customer.external_id and others.filter(external_id=customer.external_id).exists():
        raise ConflictError(
            "Another customer has this external id.",
            code="customer_external_id_taken",
            fields={"external_id": ["Already in use."]},
        )


def customer_login_email_check(*, email: str) -> None:
    """A customer with a storefront login signs in with their email, so it must fit the login
    (username) column, which is shorter than an email address may be."""
    user_model = get_user_model()
    limit = user_model._meta.get_field(user_model.USERNAME_FIELD).max_length
    if len(email) > limit:
        raise ApplicationError(
            f"A customer who signs in with their email needs one of at most {limit} characters.",
            code="email_too_long_for_login",
            fields={"email": [f"At most {limit} characters for a customer who signs in."]},
        )


def _check_login_free(username: str, *, except_user_id: int | None = None) -> None:
    users = get_user_model().objects.filter(username__iexact=username)
    if except_user_id is not None:
        users = users.exclude(pk=except_user_id)
    if users.exists():
        raise ConflictError(
            "This email address is already used by another login.",
            code="customer_email_taken",
            fields={"email": ["Already in use."]},
        )


def _save(customer: Customer, **kwargs) -> None:
    """Save; a concurrent writer that took the same email or external id is a conflict."""
    try:
        with transaction.atomic():
            customer.save(**kwargs)
    except IntegrityError as error:
        _check_unique(customer)
        raise ConflictError("The customer conflicts with another one.") from error


@transaction.atomic
def customer_create(
    *,
    brand: Brand | None,
    email: str | None = None,
    phone: str = "",
    first_name: str = "",
    last_name: str = "",
    birth_date=None,
    external_id: str | None = None,
    password: str | None = None,
) -> Customer:
    """Create a customer, known to `brand`. With a password, they also get a storefront login;
    the password must meet the policy (`AUTH_PASSWORD_VALIDATORS`, else `password_invalid`).

    A customer is one person across brands. When the email or external id belongs to a
    customer that `brand` does not know yet, that customer becomes known to `brand` instead
    (`customer_link_existing`): the answer is the same as for a new customer, so staff of one
    brand cannot learn who shops at another. An email or external id of a customer the brand
    already knows (or, without a brand, of any customer) is a conflict (`customer_*_taken`).
    """
    email = (email or None) and email.strip().lower()
    if brand is not None:
        existing = _customer_new_to_brand(brand=brand, email=email, external_id=external_id)
        if existing is not None:
            return customer_link_existing(
                customer=existing,
                brand=brand,
                phone=phone,
                first_name=first_name,
                last_name=last_name,
                birth_date=birth_date,
                external_id=external_id,
            )
    customer = Customer(
        email=email,
        phone=phone,
        first_name=first_name,
        last_name=last_name,
        birth_date=birth_date,
        external_id=external_id or None,
    )
    customer.full_clean(validate_constraints=False)
    _check_unique(customer)
    if password is not None:
        if not customer.email:
            raise ApplicationError(
                "A storefront login needs an email address.",
                code="email_required",
                fields={"email": ["Required when a password is given."]},
            )
        customer_login_email_check(email=customer.email)
        _check_login_free(customer.email)
        user_model = get_user_model()
        password_validate(
            password=password,
            user=user_model(
                username=customer.email,
                email=customer.email,
                first_name=customer.first_name,
                last_name=customer.last_name,
            ),
        )
        customer.user = user_model.objects.create_user(
            username=customer.email, email=customer.email, password=password
        )
    _save(customer)
    if brand is not None:
        customer_link_brand(customer=customer, brand=brand)
    rules_event_emit(
        event=Event.CUSTOMER_CREATED, brand_id=brand and brand.pk, customer_id=customer.pk
    )
    return customer


def _customer_new_to_brand(
    *, brand: Brand, email: str | None, external_id: str | None
) -> Customer | None:
    """The one existing customer with this email or external id, if `brand` does not know them.

    None when no customer matches, when two different customers do (a conflict), or when the
    brand knows the customer already (a conflict the brand's staff may see)."""
    matches = Customer.objects.none()
    if email:
        matches |= Customer.objects.filter(email__iexact=email)
    if external_id:
        matches |= Customer.objects.filter(external_id=external_id)
    found = list(matches.distinct()[:2])
    if len(found) != 1:
        return None
    if CustomerBrand.objects.filter(customer=found[0], brand=brand).exists():
        return None
    return found[0]


@transaction.atomic
def customer_link_existing(
    *,
    customer: Customer,
    brand: Brand,
    phone: str = "",
    first_name: str = "",
    last_name: str = "",
    birth_date=None,
    external_id: str | None = None,
) -> Customer:
    """Make an existing customer known to `brand`, as `customer_create` does for a new one.

    What the customer already has is kept (another brand's staff do not overwrite it); only
    empty details are filled in. A password is never set here: an existing login stays theirs.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    offered = {
        "phone": phone,
        "first_name": first_name,
        "last_name": last_name,
        "birth_date": birth_date,
        "external_id": external_id or None,
    }
    blanks = {
        name: value
        for name, value in offered.items()
        if value not in (None, "") and getattr(customer, name) in (None, "")
    }
    if "external_id" in blanks and (
        Customer.objects.filter(external_id=blanks["external_id"]).exclude(pk=customer.pk).exists()
    ):
        del blanks["external_id"]
    if blanks:
        customer_update(customer=customer, **blanks)
    customer_link_brand(customer=customer, brand=brand)
    rules_event_emit(event=Event.CUSTOMER_CREATED, brand_id=brand.pk, customer_id=customer.pk)
    return customer


def customer_email_change_check(
    *, customer: Customer, email: str | None, actor, previous: str | None = None
) -> None:
    """Refuse a staff user's change of the email a customer signs in with when another brand
    also knows the customer: only the customer, or a superuser, may move that login, so one
    brand's staff cannot take over a login the person uses at another brand."""
    if previous is None:
        previous = customer.email
    moves_login = customer.user_id and (email or "").strip().lower() != (previous or "")
    if moves_login and customer_known_beyond(customer=customer, user=actor):
        raise PermissionDeniedError(
            "This customer also shops at another brand: only they, or a superuser, can change "
            "the email they sign in with.",
            code="customer_shared_with_other_brands",
            fields={"email": ["Only the customer or a superuser can change it."]},
        )


@transaction.atomic
def customer_update(*, customer: Customer, actor=None, **fields) -> Customer:
    """Change a customer's profile. A customer with a storefront login signs in with their
    email, so a new email moves their login (username and email) along with it.

    `actor`, the staff user making the change: staff may not move the sign-in email of a
    customer another brand also knows (only the customer or a superuser may), so one brand's
    staff cannot take over a login the person uses at another brand."""
    allowed = {"email", "phone", "first_name", "last_name", "birth_date", "external_id"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    if not fields:
        return customer
    previous_email = (
        Customer.objects.select_for_update().filter(pk=customer.pk).values_list("email", flat=True)
    ).get()
    if "email" in fields and actor is not None:
        customer_email_change_check(
            customer=customer, email=fields["email"], actor=actor, previous=previous_email
        )
    for name, value in fields.items():
        if name == "email" and value:
            value = value.strip().lower()
        if name in {"email", "external_id"} and not value:
            value = None
        setattr(customer, name, value)
    customer.full_clean(validate_constraints=False)
    _check_unique(customer)
    if customer.user_id and "email" in fields and customer.email != previous_email:
        if not customer.email:
            raise ApplicationError(
                "A customer with a storefront login needs an email address.",
                code="email_required",
                fields={"email": ["Required: the customer signs in with it."]},
            )
        user_model = get_user_model()
        customer_login_email_check(email=customer.email)
        _check_login_free(customer.email, except_user_id=customer.user_id)
        user_model.objects.filter(pk=customer.user_id).update(
            username=customer.email, email=customer.email
        )
        security_event_log(
            EMAIL_CHANGED,
            user_id=customer.user_id,
            customer_id=customer.pk,
            changed_by=actor.pk if actor is not None else "customer",
        )
    _save(customer)
    return customer


def customer_update_own_profile(
    *, customer: Customer, request, current_password: str | None = None, **fields
) -> Customer:
    """A customer changes their own profile. Their email is their login, so changing it needs
    their current password (a wrong one counts towards the login lockout); staff change it
    through `customer_update` with their role's permission instead. Checked before the
    transaction opens, so that a refused attempt is still counted."""
    email = fields.get("email")
    new_email = (email or "").strip().lower() or None
    if customer.user_id and new_email and new_email != customer.email:
        password_confirm(
            request=request,
            user=customer.user,
            password=current_password,
            reason="to change your email address",
        )
    return customer_update(customer=customer, **fields)
