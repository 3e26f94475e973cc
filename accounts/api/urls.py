from django.urls import path

from accounts.api.views import LoginView, LogoutAllView, LogoutView, PasswordChangeView

urlpatterns = [
    path("auth/token/", LoginView.as_view(), name="auth-token"),
    path("auth/logout/", LogoutView.as_view(), name="auth-logout"),
    path("auth/logout-all/", LogoutAllView.as_view(), name="auth-logout-all"),
    path("auth/password/", PasswordChangeView.as_view(), name="auth-password"),
]
