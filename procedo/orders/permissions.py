"""Who may change the order pipeline itself (its page and its API).

The roles table has no `orders.configure` yet; `accounts.manage` is held by
exactly the owner and the managers, who are meant to edit the pipeline.
"""

PIPELINE_PERMISSION = "accounts.manage"
