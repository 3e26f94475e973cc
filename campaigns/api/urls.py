from django.urls import path

from campaigns.api.views import (
    CampaignDetailView,
    CampaignListView,
    CampaignProgressListView,
    MyCampaignListView,
)

urlpatterns = [
    path("campaigns/me/", MyCampaignListView.as_view(), name="campaigns-me"),
    path("campaigns/", CampaignListView.as_view(), name="campaigns"),
    path("campaigns/<int:campaign_id>/", CampaignDetailView.as_view(), name="campaign"),
    path(
        "campaigns/<int:campaign_id>/progress/",
        CampaignProgressListView.as_view(),
        name="campaign-progress",
    ),
]
