"""Login, logout, password change and server-side sessions."""
