from rest_framework import serializers


class LoginInputSerializer(serializers.Serializer):
    username = serializers.CharField(
        max_length=254, help_text="A customer's email address, or a staff username."
    )
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, style={"input_type": "password"}
    )


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as `Authorization: Token <token>`.")
    expiry = serializers.DateTimeField(help_text="When the token stops working.")


class PasswordChangeInputSerializer(serializers.Serializer):
    current_password = serializers.CharField(
        max_length=4096, trim_whitespace=False, style={"input_type": "password"}
    )
    new_password = serializers.CharField(
        max_length=4096, trim_whitespace=False, style={"input_type": "password"}
    )
