from django.urls import path

from crm.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("search/", views.search, name="search"),
]
