from django.urls import path  # noqa: F401  (routes are added with the views)

app_name = "sales"
urlpatterns: list = []
