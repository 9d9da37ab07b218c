from django.urls import path

from procedo.orders import export_views, views

app_name = "orders"
urlpatterns = [
    path("", views.order_list, name="list"),
    path("export/", export_views.order_export, name="export"),
    path("<int:order_id>/", views.order_detail, name="detail"),
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
    path("pipeline/statuses/<slug:code>/delete/", views.order_status_delete, name="status-delete"),
    path("pipeline/transitions/", views.order_transition_add, name="transition-add"),
    path("pipeline/transitions/remove/", views.order_transition_remove, name="transition-remove"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py).
API_TWINS = {
    "list": ("order_list",),
    "export": ("order_export",),
    "detail": ("order_detail",),
    "change-status": ("order_change_status",),
    "payment-record": ("payment_record",),
    "refund-record": ("refund_record",),
    "shipment-create": ("shipment_create",),
    "shipment-update-status": ("shipment_update_status",),
    "pipeline": ("pipeline_get",),
    "status-create": ("order_status_create",),
    "status-delete": ("order_status_delete",),
    "transition-add": ("order_transition_add",),
    "transition-remove": ("order_transition_remove",),
}
