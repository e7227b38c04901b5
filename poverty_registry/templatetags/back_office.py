"""Template tags of the one navigation (poverty_registry.navigation) shared by the admin and the purpose-built
pages: the sidebar menu, the breadcrumbs and the region/role in the header."""
from __future__ import annotations

from django import template

from .. import navigation

register = template.Library()


def _menu(request):
    # Computed once per request: the sidebar and the breadcrumbs of one page share it.
    if not hasattr(request, "_back_office_menu"):
        match = request.resolver_match
        view_name, args = (match.view_name, tuple(match.args) + tuple(match.kwargs.values())) if match else ("", ())
        request._back_office_menu = navigation.menu_for(request.user, view_name, args)
    return request._back_office_menu


@register.inclusion_tag("nav/sidebar.html", takes_context=True)
def back_office_menu(context):
    request = context.get("request")
    return {"menu": _menu(request) if request is not None else []}


@register.inclusion_tag("nav/breadcrumbs.html", takes_context=True)
def back_office_breadcrumbs(context):
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return {"trail": []}
    match = request.resolver_match
    return {"trail": navigation.breadcrumbs(_menu(request), match.view_name if match else "")}


@register.inclusion_tag("nav/who.html", takes_context=True)
def back_office_who(context):
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return {"user": None}
    region_name, role_name = navigation.identity(request.user)
    return {"user": request.user, "region_name": region_name, "role_name": role_name}
