"""roombook: conference-room booking."""
