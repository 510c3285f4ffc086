from django.urls import include, path
from rest_framework.routers import DefaultRouter

router = DefaultRouter(trailing_slash="/?")

urlpatterns = [
    path("", include(router.urls)),
]
