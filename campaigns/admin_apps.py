"""``django.contrib.admin`` with ``campaigns.admin_site.WorkspaceAdminSite`` as ``admin.site``
(a module of its own: app configs load before models, the site's forms after)."""

from django.contrib.admin.apps import AdminConfig


class WorkspaceAdminConfig(AdminConfig):
    default_site = "campaigns.admin_site.WorkspaceAdminSite"
