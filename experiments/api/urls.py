from django.urls import path

from experiments.api.views import (
    ExperimentDetailView,
    ExperimentListView,
    ExperimentPromoteView,
    ExperimentResultsView,
    ExperimentStartView,
    ExperimentStopView,
)

urlpatterns = [
    path("experiments/", ExperimentListView.as_view(), name="experiments"),
    path("experiments/<int:experiment_id>/", ExperimentDetailView.as_view(), name="experiment"),
    path(
        "experiments/<int:experiment_id>/start/",
        ExperimentStartView.as_view(),
        name="experiment-start",
    ),
    path(
        "experiments/<int:experiment_id>/stop/",
        ExperimentStopView.as_view(),
        name="experiment-stop",
    ),
    path(
        "experiments/<int:experiment_id>/promote/",
        ExperimentPromoteView.as_view(),
        name="experiment-promote",
    ),
    path(
        "experiments/<int:experiment_id>/results/",
        ExperimentResultsView.as_view(),
        name="experiment-results",
    ),
]
