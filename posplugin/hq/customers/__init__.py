"""The customer's side of head office, without HTTP: joining with a
one-time code (join, senders), consent, linked accounts (accounts, vault)
and their metrics (collector), the customer's page (me, me_source,
published, passes) and after-sale invitations."""
