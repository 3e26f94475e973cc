from django.urls import path

from rewards.api.views import (
    CustomerRewardCancelView,
    CustomerRewardListView,
    MyRewardListView,
    RewardIssueView,
    RewardTemplateDetailView,
    RewardTemplateListView,
)

urlpatterns = [
    path("rewards/me/", MyRewardListView.as_view(), name="rewards-me"),
    path("rewards/", CustomerRewardListView.as_view(), name="rewards"),
    path(
        "rewards/<int:reward_id>/cancel/",
        CustomerRewardCancelView.as_view(),
        name="reward-cancel",
    ),
    path("rewards/templates/", RewardTemplateListView.as_view(), name="reward-templates"),
    path(
        "rewards/templates/<int:template_id>/",
        RewardTemplateDetailView.as_view(),
        name="reward-template",
    ),
    path(
        "rewards/templates/<int:template_id>/issue/",
        RewardIssueView.as_view(),
        name="reward-template-issue",
    ),
]
