"""The SMS gateway: an Africa's Talking-style HTTP API, its signed callbacks, and a simulator of it."""
from __future__ import annotations

SEND_PATH = "/version1/messaging"
BULK_PATH = "/version1/messaging/bulk"  # JSON: many messages, each with its own client reference
BULK_MAX = 500
# Per-recipient status codes, as Africa's Talking reports them.
PROCESSED, SENT, QUEUED = 100, 101, 102
INVALID_PHONE, BLACKLISTED, GATEWAY_ERROR = 403, 406, 500
STATUS_NAMES = {PROCESSED: "Processed", SENT: "Sent", QUEUED: "Queued", INVALID_PHONE: "InvalidPhoneNumber",
                BLACKLISTED: "UserInBlacklist", GATEWAY_ERROR: "GatewayError"}
# Delivery report statuses, from least to most final; a report never moves a message backwards.
DLR_ORDER = ("Submitted", "Buffered", "Sent", "Success", "Failed", "Rejected")
FINAL = frozenset({"Success", "Failed", "Rejected"})
