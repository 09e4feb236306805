"""Staff accounts: list, create (R-01), edit, disable, reset password."""
