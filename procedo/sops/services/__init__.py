"""Every write to SOPs, one transaction and one event each: the SOP itself (sops), its
revisions and their workflow (revisions), what the people who run it say (feedback), and
who read which published revision (acknowledgement)."""
