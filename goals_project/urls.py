import re
from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from campaigns.admin import view_on_site
from campaigns.errors import api_not_found
from goals.views.base import LoginView

FAVICON = (Path(__file__).resolve().parents[1] / "goals/static/goals/favicon.svg").read_bytes()


def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for on every site (the admin's pages too): without
    it each first visit logged a 404 in the browser's console."""
    response = HttpResponse(FAVICON, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


#: A name ``ManifestStaticFilesStorage`` gave a file (``chart.4f2a9c0d1e3b.js``): its content
#: never changes under it.
HASHED_NAME = re.compile(r"\.[0-9a-f]{12}\.[^/.]+$")


def static_file(request: HttpRequest, path: str) -> HttpResponseBase:
    """``/static/`` from ``STATIC_ROOT`` (``collectstatic``) when DEBUG is off, so the README's
    gunicorn serves the pages' stylesheets and scripts and the offline API docs by itself
    (with DEBUG on, ``runserver`` serves them from the apps). A proxy in front may serve
    ``STATIC_ROOT`` at ``/static/`` instead. Hashed names are cached for good."""
    response = serve(request, path, document_root=str(settings.STATIC_ROOT))
    if HASHED_NAME.search(path):
        response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


# A URL no route matches: JSON under /api/ (campaigns.errors.page_not_found).
handler404 = "campaigns.errors.page_not_found"

urlpatterns = [
    path("", RedirectView.as_view(url="/goals/", permanent=False)),
    path("favicon.ico", favicon, name="favicon"),
    path("goals/", include("goals.ui_urls")),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    # Before the admin's own "view on site" URL, which it replaces with a workspace-scoped one.
    path(
        "admin/r/<int:content_type_id>/<path:object_id>/",
        admin.site.admin_view(view_on_site),
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include("campaigns.urls")),
    path("api/v1/", include("goals.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    # Last: any other URL under /api/v1/ is the API's JSON 404, DEBUG or not. Not all of
    # /api/: "/api/docs" must stay unmatched so that Django redirects it to "/api/docs/"
    # (the v1 routes take an optional slash themselves).
    re_path(r"^api/v1/", api_not_found),
]

if not settings.DEBUG:
    urlpatterns.append(re_path(r"^static/(?P<path>.+)$", static_file))
