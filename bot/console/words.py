"""Words the console shows from data (roles, channels, tiers, warning zones, campaign states), marked here
so that babel extracts them; the templates translate them with `_()`. tests/bot/console checks the lists
stay complete."""
from __future__ import annotations


def N_(text: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return text


ROLES = (N_("viewer"), N_("agent"), N_("supervisor"), N_("admin"))
CHANNELS = (N_("sms"), N_("telegram"))  # where an opt-out came from
TIERS = (N_("regular"), N_("silver"), N_("gold"), N_("diamond"))
ZONES = (N_("blue"), N_("green"), N_("yellow"), N_("red"), N_("white"))
STATES = (N_("draft"), N_("previewed"), N_("approved"), N_("scheduled"), N_("running"), N_("paused"),
          N_("cancelled"), N_("done"))
KINDS = (N_("bill-ready"), N_("bill-due"), N_("low-balance"), N_("package-expiring"), N_("points-expiring"),
         N_("roaming"), N_("appointment"), N_("tee-time"), N_("inspection-due"), N_("birthday"),
         N_("holiday-greeting"), N_("suspension-care"))  # menus/reminders.toml's kinds
