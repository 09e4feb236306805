"""Activity: contacts with customers, follow-ups, birthdays, and the daily 2511 / 511 logs."""
