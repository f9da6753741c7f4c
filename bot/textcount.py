"""Text counting as the network does it; the rules live with the outside world in integrations/gsm.py."""
from integrations.gsm import (GSM7_BASIC, GSM7_EXTENDED, PART, SINGLE, Count, Encoding, char_units, count,  # noqa: F401
                              encoding_of, fits, is_gsm7, units)
