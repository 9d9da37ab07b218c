"""Reading SOPs: SOPs and their revisions (sops), who runs and read them (audience), feedback
and recognition (feedback)."""
