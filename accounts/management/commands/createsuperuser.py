"""Django's `createsuperuser`, with the password policy applied without a prompt too.

Run with `--noinput`, Django takes `DJANGO_SUPERUSER_PASSWORD` as it is; here it must meet
`AUTH_PASSWORD_VALIDATORS` like any other password. (At the prompt, Django already checks it.)
"""

import os

from django.contrib.auth.management.commands import createsuperuser
from django.core.management.base import CommandError

from accounts.services import password_validate
from core.errors import ApplicationError


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if not options["interactive"] and password:
            username_field = self.UserModel.USERNAME_FIELD
            username = options.get(username_field) or os.environ.get(
                f"DJANGO_SUPERUSER_{username_field.upper()}"
            )
            email = options.get("email") or os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
            user = self.UserModel(**{username_field: username or "", "email": email or ""})
            try:
                password_validate(password=password, user=user)
            except ApplicationError as error:
                raise CommandError(error.message) from error
        return super().handle(*args, **options)
