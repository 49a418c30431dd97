"""Identity: users, roles and hashed API tokens.

Below every capability, so that each service can check the principal it acts
for (:mod:`.service`).
"""
