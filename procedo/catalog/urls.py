from django.urls import path

from procedo.catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.products, name="products"),
    path("new/", views.product_create, name="product-create"),
    path("export/", views.product_export, name="product-export"),
    path("<int:product_id>/", views.product, name="product"),
    path("<int:product_id>/edit/", views.product_update, name="product-update"),
    path("<int:product_id>/skus/", views.sku_create, name="sku-create"),
    path("skus/<int:sku_id>/", views.sku_update, name="sku-update"),
    path("skus/<int:sku_id>/stock/", views.stock_adjust, name="stock-adjust"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py).
API_TWINS = {
    "products": ("product_list",),
    "product-create": ("product_create",),
    "product-export": ("product_export",),
    "product": ("product_detail", "stock_movements_of_sku"),
    "product-update": ("product_update",),
    "sku-create": ("sku_create",),
    "sku-update": ("sku_update", "sku_get"),
    "stock-adjust": ("stock_adjust",),
}
