from django.urls import path

from procedo.orders import export_views, views

app_name = "orders"
urlpatterns = [
    path("", views.order_list, name="list"),
    path("new/", views.order_create, name="create"),
    path("new/customer/", views.customer_lookup, name="customer-lookup"),
    path("new/skus/", views.sku_search, name="sku-search"),
    path("new/line/", views.line_row, name="line-row"),
    path("new/preview/", views.order_preview, name="preview"),
    path("status/", views.orders_change_status_many, name="change-status-many"),
    path("export/", export_views.order_export, name="export"),
    path("<int:order_id>/", views.order_detail, name="detail"),
    path("<int:order_id>/edit/", views.order_edit, name="edit"),
    path("<int:order_id>/lines/", views.order_lines_set, name="lines-set"),
    path("<int:order_id>/delivery/", views.order_delivery_set, name="delivery-set"),
    path("<int:order_id>/status/", views.order_change_status, name="change-status"),
    path("<int:order_id>/payments/", views.payment_record, name="payment-record"),
    path("<int:order_id>/refunds/", views.refund_record, name="refund-record"),
    path("<int:order_id>/shipments/", views.shipment_create, name="shipment-create"),
    path(
        "shipments/<int:shipment_id>/status/",
        views.shipment_update_status,
        name="shipment-update-status",
    ),
    path("pipeline/", views.pipeline, name="pipeline"),
    path("pipeline/statuses/", views.order_status_create, name="status-create"),
    path("pipeline/statuses/<slug:code>/", views.order_status_update, name="status-update"),
    path("pipeline/statuses/<slug:code>/delete/", views.order_status_delete, name="status-delete"),
    path("pipeline/transitions/", views.order_transition_add, name="transition-add"),
    path("pipeline/transitions/remove/", views.order_transition_remove, name="transition-remove"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py).
API_TWINS = {
    "list": ("order_list", "order_status_counts"),
    "create": ("order_create",),
    "customer-lookup": ("customer_list",),
    "sku-search": ("sku_list",),
    "line-row": ("sku_get",),
    "change-status-many": ("orders_change_status_many",),
    "export": ("order_export",),
    "detail": ("order_detail",),
    "edit": ("order_detail", "order_lines_set", "order_delivery_set"),
    "lines-set": ("order_lines_set",),
    "delivery-set": ("order_delivery_set",),
    "change-status": ("order_change_status",),
    "payment-record": ("payment_record",),
    "refund-record": ("refund_record",),
    "shipment-create": ("shipment_create",),
    "shipment-update-status": ("shipment_update_status",),
    "pipeline": ("pipeline_get",),
    "status-create": ("order_status_create",),
    "status-update": ("order_status_update",),
    "status-delete": ("order_status_delete",),
    "transition-add": ("order_transition_add",),
    "transition-remove": ("order_transition_remove",),
}

PAGE_ONLY = {
    "preview": "the form's running totals as they are typed; a program sends the order "
    "(order_create, order_lines_set) and reads its totals back, or the refusal naming "
    "the short line",
}
