"""The audit trail (DOMAIN §7.3) every app's data is recorded in: the triggers and their chains (trail), the
anchors of the chains' heads (anchor), the trail in the users' words (display), who changes what (middleware)."""
