"""The Telegram Bot API as Shortcode uses it, and a simulator of it (`shortcode telegram-api`)."""
from __future__ import annotations

MAX_TEXT = 4096  # characters of a message text
MAX_CALLBACK_DATA = 64  # bytes of an inline button's callback_data
MAX_ANSWER_TEXT = 200  # characters of an answerCallbackQuery notification
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# The update types a bot receives when it names none (Telegram leaves out chat_member and reactions).
DEFAULT_UPDATES = frozenset({"message", "edited_message", "callback_query", "my_chat_member"})


class ApiError(Exception):
    """A Bot API refusal, answered as Telegram does: `{"ok": false, "error_code", "description"}`."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after

    def body(self) -> dict:
        body: dict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def too_many(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


CHAT_NOT_FOUND = "chat not found"


def blocked() -> ApiError:
    return ApiError(403, "Forbidden: bot was blocked by the user")


NOT_MODIFIED = ("message is not modified: specified new message content and reply markup are exactly the same "
                "as a current content and reply markup of the message")
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


def webhook_active() -> ApiError:
    return ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
                         "delete the webhook first")


def other_poll() -> ApiError:
    return ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
                         "is running")
