"""Who may change the order pipeline itself (its page and its API), and who manages orders.

The roles table has no `orders.configure` yet; `accounts.manage` is held by
exactly the owner and the managers, who are meant to edit the pipeline.
"""

from procedo.accounts.roles import ROLE_PERMISSIONS

PIPELINE_PERMISSION = "accounts.manage"
# An order's manager is someone who may work on it: take it, edit it, move it.
MANAGER_PERMISSION = "orders.change"


def manager_roles() -> list[str]:
    return [role for role, allowed in ROLE_PERMISSIONS.items() if MANAGER_PERMISSION in allowed]
