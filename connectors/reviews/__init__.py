"""Online review connectors: Care Opinion API v2 and NHS.UK ratings and reviews."""
