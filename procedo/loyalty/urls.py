from django.urls import path

from procedo.loyalty import views

app_name = "loyalty"
urlpatterns = [
    path("", views.program, name="program"),
    path("terms/", views.program_update, name="program-update"),
    path("tiers/", views.tiers_set, name="tiers-set"),
    path("referrals/", views.referrals, name="referrals"),
    path("referrals/attribute/", views.referral_attribute, name="referral-attribute"),
    path(
        "customers/<int:customer_id>/referral-code/",
        views.referral_code_issue,
        name="referral-code-issue",
    ),
    path("rewards/<int:reward_id>/redeem/", views.reward_redeem, name="reward-redeem"),
]

# Each page's twin in the API (procedo/home/tests/test_api_twins.py).
API_TWINS = {
    "program": ("loyalty_program",),
    "program-update": ("program_update",),
    "tiers-set": ("tiers_set",),
    "referrals": ("referral_numbers",),
    "referral-attribute": ("referral_attribute",),
    "referral-code-issue": ("referral_code_issue", "customer_loyalty"),
    "reward-redeem": ("reward_redeem",),
}
