"""Accounts: users, password and token authentication, and who may do what."""
