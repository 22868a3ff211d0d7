"""How the sample agent's tools are named in messages, and what they report when they fail."""

from __future__ import annotations

TOOL_SERVICES = {
    "lookup_order": "orders",
    "check_shipping_status": "carrier-gateway",
    "issue_refund": "payments",
    "get_account": "accounts",
    "reset_password": "identity",
    "check_inventory": "inventory",
    "get_invoice": "billing",
}
TOOL_ACTIONS = {
    "lookup_order": "pull up order {order_id}",
    "check_shipping_status": "get the latest tracking update for order {order_id}",
    "issue_refund": "complete the refund for order {order_id}",
    "get_account": "load your account details",
    "reset_password": "send the password reset link",
    "check_inventory": "check live stock levels",
    "get_invoice": "retrieve invoice {invoice_id}",
}
NOT_FOUND_ERRORS = {
    "lookup_order": "Order {order_id} not found",
    "check_shipping_status": "No shipment found for order {order_id}",
    "issue_refund": "Refund amount {amount} exceeds refundable balance 0.00 for order {order_id}",
    "get_account": "Customer {customer_id} not found",
    "reset_password": "Customer {customer_id} has no verified email address",
    "check_inventory": "Unknown SKU {sku}",
    "get_invoice": "Invoice {invoice_id} not found",
}
# Keyed by exception type; `{service}` is from TOOL_SERVICES, `{subject}` the call's first argument.
TOOL_EXCEPTIONS = {
    "TimeoutError": "{service} service timed out after {seconds}s (request for {subject})",
    "ConnectionError": "could not connect to {service}.internal:8443 (connection refused)",
    "HTTPError": "503 Server Error: Service Unavailable for url: https://{service}.internal/v2/{subject}",
    "ValueError": "unexpected response from {service} for {subject}: missing field 'status'",
}
RATE_LIMIT_ERROR = "Error: rate limit exceeded for {service} API (429 Too Many Requests), retry after {seconds}s"
