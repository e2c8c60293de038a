"""Writes of the accounts app: each one function, one transaction, one audit event per change."""

from apps.accounts.actions.tokens import IssuedToken, issue_token, replace_tokens, revoke_token

__all__ = ["IssuedToken", "issue_token", "replace_tokens", "revoke_token"]
