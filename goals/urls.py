from django.urls import include, path

from campaigns.urls import OptionalSlashRouter

router = OptionalSlashRouter()

urlpatterns = [
    path("", include(router.urls)),
]
