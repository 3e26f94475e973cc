from django.urls import path

from notifications.api.views import MyNotificationListView, MyNotificationReadView

urlpatterns = [
    path("me/notifications/", MyNotificationListView.as_view(), name="me-notifications"),
    path(
        "me/notifications/<int:message_id>/read/",
        MyNotificationReadView.as_view(),
        name="me-notification-read",
    ),
]
